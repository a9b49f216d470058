import { existsSync } from 'node:fs';
import path from 'node:path';
import { UcvmError, isUcvmError } from '../errors.js';
import { changedFilesSince } from '../git/index.js';
import { loadPublicKey } from '../keys/index.js';
import type { Channel } from '../manifest/schema.js';
import {
  loadPipelineText,
  type PipelineConfig,
  type RepositorySettings,
} from '../pipeline/index.js';
import { readProjectText } from '../project/read-text.js';
import { openVerifiedRepository } from '../reader/open.js';
import { openSource } from '../reader/source.js';
import { loadChannelManifest } from '../template/channel.js';
import { repositoryState } from './actual.js';
import { desiredVersion } from './desired.js';
import {
  computePlan,
  repositoryDrift,
  type ChannelPlan,
  type DesiredVersion,
  type RepositoryState,
} from './plan.js';

const DAY = 86_400_000;

export interface PipelinePlan {
  plans: ChannelPlan[];
  /** Things that are not as they should be but that plan never "fixes" (e.g. expiring whitelists). */
  drift: string[];
}

export interface PlanOptions {
  /** Root of the git repository holding manifests/ and pipeline/. */
  root: string;
  /** Read repositories through their `url` rather than their storage directory. */
  remote?: boolean;
  /** Only these channels. */
  channels?: readonly Channel[];
  /** Only channels whose manifest changed since this git revision (all if the pipeline did). */
  since?: string;
  now?: Date;
}

/** The directory a `keys:` reference names (`env:VAR` or a path relative to the project). */
export function keysDirectory(settings: RepositorySettings, root: string): string {
  if (settings.keys.startsWith('env:')) {
    const variable = settings.keys.slice(4);
    const value = process.env[variable];
    if (value === undefined || value === '')
      throw new UcvmError(
        'KEY_MISSING',
        `${settings.name}: keys come from $${variable}, which is not set`,
        {
          details: 'Set it to the directory holding <fqrn>.pub (plan needs only the public key).',
        },
      );
    return path.resolve(value);
  }
  return path.resolve(root, settings.keys);
}

function location(settings: RepositorySettings, root: string, remote: boolean): string {
  if (!remote && settings.storage !== undefined) return path.resolve(root, settings.storage);
  if (settings.url !== undefined) return settings.url;
  if (settings.storage !== undefined) return path.resolve(root, settings.storage);
  throw new UcvmError(
    'PIPELINE_INVALID',
    `${settings.name} has neither storage nor url to read it from`,
  );
}

/**
 * Reads a repository's verified state with its master public key only (no private key, no
 * write access: safe for a pull request from a fork). A repository not created yet has no tags.
 */
async function readState(
  settings: RepositorySettings,
  options: PlanOptions,
  drift: string[],
): Promise<RepositoryState> {
  const where = location(settings, options.root, options.remote === true);
  const publicKey = path.join(keysDirectory(settings, options.root), `${settings.name}.pub`);
  if (!where.startsWith('http') && !existsSync(path.join(where, '.cvmfspublished')))
    return { fqrn: settings.name, rollingTag: settings.rollingTag, tags: [] };
  const repository = await openVerifiedRepository(openSource(where), {
    masterKeys: [await loadPublicKey(publicKey)],
    fqrn: settings.name,
    allowExpired: true,
  }).catch((error: unknown) => {
    if (isUcvmError(error, 'REPO_NOT_FOUND')) return undefined;
    throw error;
  });
  if (repository === undefined)
    return { fqrn: settings.name, rollingTag: settings.rollingTag, tags: [] };
  try {
    const now = options.now ?? new Date();
    const { whitelist } = await repository.whitelist();
    const left = whitelist.expiresAt.getTime() - now.getTime();
    if (left < 7 * DAY)
      drift.push(
        `${settings.name}: the whitelist ${left <= 0 ? 'expired' : 'expires'} on ${whitelist.expiresAt.toISOString()}; renew it with \`ucvm keys resign\``,
      );
    return await repositoryState(repository, settings.rollingTag);
  } finally {
    repository.close();
  }
}

/** The plan of the whole pipeline: desired state from the manifests, actual from the repositories. */
export async function planPipeline(options: PlanOptions): Promise<PipelinePlan> {
  const file = path.join(options.root, 'pipeline', 'pipeline.yaml');
  const pipeline: PipelineConfig = loadPipelineText(
    await readProjectText(file, { code: 'PIPELINE_INVALID' }),
    'pipeline/pipeline.yaml',
  );
  const drift: string[] = [];
  const selected = await selectedChannels(options, pipeline);
  const desired = new Map<Channel, DesiredVersion>();
  const actual = new Map<Channel, RepositoryState>();
  for (const channel of pipeline.promotion) {
    const name = pipeline.channels[channel];
    const settings = pipeline.repositories.find((repository) => repository.name === name);
    if (settings === undefined) continue;
    actual.set(channel, await readState(settings, options, drift));
    if (!selected.has(channel)) continue;
    const version = await desiredVersion(
      await loadChannelManifest(options.root, channel),
      options.root,
    );
    desired.set(channel, version);
    drift.push(...repositoryDrift(version.system, actual.get(channel)!));
  }
  return { plans: computePlan({ promotion: pipeline.promotion, desired, actual }), drift };
}

/** The channels to plan: `--channel`, narrowed to those `--since` finds changed. */
async function selectedChannels(
  options: PlanOptions,
  pipeline: PipelineConfig,
): Promise<Set<Channel>> {
  let channels = new Set(options.channels ?? pipeline.promotion);
  if (options.since !== undefined) {
    const changed = new Set(await changedFilesSince(options.root, options.since));
    const pipelineChanged = [...changed].some((file) => file.startsWith('pipeline/'));
    if (!pipelineChanged)
      channels = new Set(
        [...channels].filter((channel) => changed.has(`manifests/${channel}.yaml`)),
      );
  }
  return channels;
}
