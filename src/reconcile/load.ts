import { planImages, type ImagePlan } from '../image/plan.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UcvmError, isUcvmError } from '../errors.js';
import { changedFilesSince, fileAtCommit, versionsInHistory } from '../git/index.js';
import { loadPublicKey } from '../keys/index.js';
import type { Channel } from '../manifest/schema.js';
import {
  loadPipelineText,
  type PipelineConfig,
  type RepositorySettings,
} from '../pipeline/index.js';
import { readProjectText } from '../project/read-text.js';
import { diffManifests, validateManifestText } from '../manifest/index.js';
import type { Manifest } from '../manifest/schema.js';
import { compareDebianVersions } from '../packages/debian/version.js';
import { diffSnapshots } from '../reader/diff.js';
import { openVerifiedRepository } from '../reader/open.js';
import type { Repository } from '../reader/repository.js';
import { isUrl, openSource } from '../reader/source.js';
import { repositoryStorage, storageSource } from '../pipeline/storage.js';
import { isS3Location } from '../storage/s3/index.js';
import { loadChannelManifest } from '../manifest/channel-file.js';
import { repositoryState } from './actual.js';
import { desiredVersion } from './desired.js';
import {
  computePlan,
  repositoryDrift,
  snapshotTag,
  versionOfTag,
  type ChannelPlan,
  type DesiredVersion,
  type RepositoryState,
} from './plan.js';

const DAY = 86_400_000;

export interface PipelinePlan {
  plans: ChannelPlan[];
  /** Things that are not as they should be but that plan never "fixes" (e.g. expiring whitelists). */
  drift: string[];
  /** Reminders that need no action from reconcile (e.g. forward-port a hotfix). */
  warnings: string[];
  /** Each channel's boot image (none when the project has no pipeline/image.yaml). */
  images: ImagePlan[];
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
  /** Compute package and file diffs for channels with an action (default true). */
  details?: boolean;
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

export function location(settings: RepositorySettings, root: string, remote: boolean): string {
  if (!remote && settings.storage !== undefined)
    return isS3Location(settings.storage) ? settings.storage : path.resolve(root, settings.storage);
  if (settings.url !== undefined) return settings.url;
  // Where cvmfs_server serves a stratum 0 on its own machine.
  if (settings.backend === 'cvmfs-server') return `http://localhost/cvmfs/${settings.name}`;
  if (settings.storage !== undefined) return path.resolve(root, settings.storage);
  throw new UcvmError(
    'PIPELINE_INVALID',
    `${settings.name} has neither storage nor url to read it from`,
  );
}

/** A channel's repository, opened read-only and verified with its master public key only. */
export interface OpenedRepository {
  settings: RepositorySettings;
  repository: Repository | undefined;
  state: RepositoryState;
}

/**
 * Opens a repository with its master public key only (no private key, no write access: safe
 * for a pull request from a fork). A repository not created yet has no tags.
 */
export async function openChannelRepository(
  settings: RepositorySettings,
  options: { root: string; remote?: boolean; now?: Date },
  drift: string[],
): Promise<OpenedRepository> {
  const where = location(settings, options.root, options.remote === true);
  const empty: OpenedRepository = {
    settings,
    repository: undefined,
    state: { fqrn: settings.name, rollingTag: settings.rollingTag, tags: [] },
  };
  const inStorage = !isUrl(where);
  if (inStorage && !isS3Location(where) && !existsSync(path.join(where, '.cvmfspublished')))
    return empty;
  const source = inStorage
    ? storageSource(repositoryStorage(settings, options.root))
    : openSource(where);
  if (isS3Location(where) && (await source.read('.cvmfspublished')) === undefined) return empty;
  const publicKey = path.join(keysDirectory(settings, options.root), `${settings.name}.pub`);
  const repository = await openVerifiedRepository(source, {
    masterKeys: [await loadPublicKey(publicKey)],
    fqrn: settings.name,
    allowExpired: true,
  }).catch((error: unknown) => {
    if (isUcvmError(error, 'REPO_NOT_FOUND')) return undefined;
    throw error;
  });
  if (repository === undefined) return empty;
  try {
    const now = options.now ?? new Date();
    const { whitelist } = await repository.whitelist();
    const left = whitelist.expiresAt.getTime() - now.getTime();
    if (left < 7 * DAY)
      drift.push(
        `${settings.name}: the whitelist ${left <= 0 ? 'expired' : 'expires'} on ${whitelist.expiresAt.toISOString()}; renew it with \`ucvm keys resign\``,
      );
    return {
      settings,
      repository,
      state: await repositoryState(repository, settings.rollingTag),
    };
  } catch (error) {
    repository.close();
    throw error;
  }
}

export async function loadPipeline(root: string): Promise<PipelineConfig> {
  const file = path.join(root, 'pipeline', 'pipeline.yaml');
  const text = await readProjectText(file, { code: 'PIPELINE_INVALID' }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new UcvmError('PIPELINE_INVALID', `there is no pipeline/pipeline.yaml in ${root}`, {
        details: 'Run ucvm from the root of the pipeline repository, or give it with --root.',
      });
    throw error;
  });
  return loadPipelineText(text, 'pipeline/pipeline.yaml');
}

export function channelSettings(
  pipeline: PipelineConfig,
  channel: Channel,
): RepositorySettings | undefined {
  const name = pipeline.channels[channel];
  return pipeline.repositories.find((repository) => repository.name === name);
}

/** The plan of the whole pipeline: desired state from the manifests, actual from the repositories. */
export async function planPipeline(options: PlanOptions): Promise<PipelinePlan> {
  const pipeline = await loadPipeline(options.root);
  const drift: string[] = [];
  const selected = await selectedChannels(options, pipeline);
  const desired = new Map<Channel, DesiredVersion>();
  const manifests = new Map<Channel, Manifest>();
  const opened = new Map<Channel, OpenedRepository>();
  try {
    for (const channel of pipeline.promotion) {
      const settings = channelSettings(pipeline, channel);
      if (settings === undefined) continue;
      opened.set(channel, await openChannelRepository(settings, options, drift));
      if (!selected.has(channel)) continue;
      const manifest = await loadChannelManifest(options.root, channel);
      manifests.set(channel, manifest);
      const version = await desiredVersion(manifest, options.root);
      desired.set(channel, version);
      drift.push(...repositoryDrift(version.system, opened.get(channel)!.state));
    }
    const actual = new Map([...opened].map(([channel, { state }]) => [channel, state]));
    const plans = computePlan({
      promotion: pipeline.promotion,
      desired,
      actual,
      ...(pipeline.gates !== undefined && { gates: pipeline.gates }),
      ...(options.now !== undefined && { now: options.now }),
    });
    if (options.details !== false)
      for (const plan of plans) await describeChanges(plan, options.root, manifests, opened);
    const warnings = forwardPortReminders(pipeline.promotion, manifests, actual);
    drift.push(...(await unexplainedTags(options.root, pipeline.promotion, actual, manifests)));
    const images = await planImages(
      options.root,
      pipeline,
      pipeline.promotion.filter((channel) => selected.has(channel)),
    );
    return { plans, drift, warnings, images };
  } finally {
    for (const { repository } of opened.values()) repository?.close();
  }
}

/** The package diff against what the channel runs now, and the file summary where both snapshots exist. */
async function describeChanges(
  plan: ChannelPlan,
  root: string,
  manifests: ReadonlyMap<Channel, Manifest>,
  opened: ReadonlyMap<Channel, OpenedRepository>,
): Promise<void> {
  if (plan.action.kind === 'none') return;
  const target = opened.get(plan.channel);
  const desired = manifests.get(plan.channel);
  if (target === undefined || desired === undefined || plan.currentVersion === undefined) return;
  const currentTag = target.state.tags.find(
    (tag) => tag.name === snapshotTag(desired.system.name, plan.currentVersion!),
  );
  const provenance = currentTag?.provenance;
  const text =
    provenance?.commit === undefined || provenance.manifest === undefined
      ? undefined
      : await fileAtCommit(root, provenance.commit, provenance.manifest);
  const running =
    text === undefined ? undefined : validateManifestText(text, provenance!.manifest!).manifest;
  plan.changes = {};
  if (running !== undefined) plan.changes.packages = diffManifests(running, desired);
  else
    plan.changes.packagesUnavailable =
      provenance?.commit === undefined
        ? `${plan.currentVersion} records no git commit`
        : `commit ${provenance.commit} is not in this clone (fetch the full history)`;
  const rolling = target.state.tags.find((tag) => tag.name === target.state.rollingTag);
  const { action } = plan;
  const other =
    action.kind === 'promote'
      ? { repository: opened.get(action.from)?.repository, rootHash: action.rootHash }
      : action.kind === 'move' || action.kind === 'rollback'
        ? { repository: target.repository, rootHash: action.rootHash }
        : undefined;
  if (
    rolling === undefined ||
    target.repository === undefined ||
    other?.repository === undefined ||
    other.rootHash === undefined
  )
    return;
  const diff = await diffSnapshots(
    await target.repository.snapshot(rolling.rootHash),
    await other.repository.snapshot(other.rootHash),
  );
  plan.changes.files = diff.summary;
}

/**
 * For each hotfix production carries (its tags' provenance), the channels before it that pin
 * an older version of a package the hotfix upgraded, or none: they must carry it forward.
 */
export function forwardPortReminders(
  promotion: readonly Channel[],
  manifests: ReadonlyMap<Channel, Manifest>,
  actual: ReadonlyMap<Channel, RepositoryState>,
): string[] {
  const last = promotion[promotion.length - 1];
  const production = last === undefined ? undefined : actual.get(last);
  if (production === undefined) return [];
  const reminders: string[] = [];
  for (const tag of production.tags) {
    const hotfix = tag.provenance?.hotfix;
    if (hotfix === undefined) continue;
    for (const channel of promotion.slice(0, -1)) {
      const manifest = manifests.get(channel);
      if (manifest === undefined) continue;
      const behind = Object.entries(hotfix.upgrades).filter(([name, version]) => {
        const pinned = manifest.packages[name];
        return pinned === undefined || compareDebianVersions(pinned, version) < 0;
      });
      if (behind.length > 0)
        reminders.push(
          `${channel} does not carry hotfix ${tag.name} of ${last} forward: ${behind
            .map(
              ([name, version]) => `${name} ${manifest.packages[name] ?? '(absent)'} < ${version}`,
            )
            .join(', ')} (\`ucvm lock ${channel} --upgrade\`, then publish a new version)`,
        );
    }
  }
  return reminders;
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

/**
 * Version tags that no manifest in git history ever asked for (published by hand, or from a
 * branch that never merged). Needs the full history: a shallow clone says so instead.
 */
async function unexplainedTags(
  root: string,
  promotion: readonly Channel[],
  actual: ReadonlyMap<Channel, RepositoryState>,
  manifests: ReadonlyMap<Channel, Manifest>,
): Promise<string[]> {
  const system = [...manifests.values()][0]?.system.name;
  if (system === undefined) return [];
  const history = await versionsInHistory(
    root,
    promotion.map((channel) => `manifests/${channel}.yaml`),
  );
  if (history === undefined) return [];
  const known = new Set([...history].map((version) => snapshotTag(system, version)));
  for (const manifest of manifests.values())
    known.add(snapshotTag(manifest.system.name, manifest.system.version));
  const drift: string[] = [];
  for (const [, state] of actual)
    for (const tag of state.tags)
      if (versionOfTag(system, tag.name) !== undefined && !known.has(tag.name))
        drift.push(
          `${state.fqrn}: tag ${tag.name} is asked for by no manifest in the git history (published by hand?)`,
        );
  return drift;
}
