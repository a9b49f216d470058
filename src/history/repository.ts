import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Tag } from '../cvmfs/history.js';
import { UcvmError, isUcvmError } from '../errors.js';
import { loadPublicKey } from '../keys/index.js';
import type { Channel } from '../manifest/schema.js';
import { loadPipelineText, type RepositorySettings } from '../pipeline/index.js';
import { readProjectText } from '../project/read-text.js';
import { openVerifiedRepository } from '../reader/open.js';
import { isUrl, openSource } from '../reader/source.js';
import { keysDirectory } from '../reconcile/load.js';

/** Where a channel's repository is and what its tags are, read as `ucvm plan` reads it. */
export interface ChannelRepository {
  fqrn: string;
  /** The storage directory or URL that was read. */
  location: string;
  rollingTag: string;
  /** False when the repository has not been created yet (no tags then). */
  exists: boolean;
  /** Every tag, verified (the manifest signed, the certificate on a whitelist signed by the master key). */
  tags: Tag[];
}

/** The storage directory, else the URL (`--remote`: the URL, else the storage directory). */
function location(settings: RepositorySettings, root: string, remote: boolean): string {
  if (!remote && settings.storage !== undefined) return path.resolve(root, settings.storage);
  if (settings.url !== undefined) return settings.url;
  if (settings.storage !== undefined) return path.resolve(root, settings.storage);
  throw new UcvmError(
    'PIPELINE_INVALID',
    `${settings.name} has neither storage nor url to read it from`,
    { where: { file: 'pipeline/pipeline.yaml' } },
  );
}

/** The settings of the repository pipeline/pipeline.yaml gives `channel`. */
export async function channelRepositorySettings(
  root: string,
  channel: Channel,
): Promise<RepositorySettings> {
  const file = path.join(root, 'pipeline', 'pipeline.yaml');
  const pipeline = loadPipelineText(
    await readProjectText(file, { code: 'PIPELINE_INVALID' }),
    'pipeline/pipeline.yaml',
  );
  const name = pipeline.channels[channel];
  if (name === undefined)
    throw new UcvmError('USAGE', `channel ${channel} has no repository in pipeline/pipeline.yaml`, {
      details: `The pipeline gives repositories to: ${Object.keys(pipeline.channels).join(', ') || '(none)'}.`,
    });
  const settings = pipeline.repositories.find((repository) => repository.name === name);
  if (settings === undefined)
    throw new UcvmError(
      'PIPELINE_INVALID',
      `channel ${channel} names repository ${name}, which pipeline/pipeline.yaml does not list`,
      { where: { file: 'pipeline/pipeline.yaml', path: `channels.${channel}` } },
    );
  return settings;
}

/**
 * Reads the channel repository's tags with its master public key only (`<keys>/<fqrn>.pub`),
 * verified as a client verifies: the same reading as `ucvm plan`'s. An expired whitelist is
 * accepted (history stays readable); a repository not created yet has no tags.
 */
export async function readChannelRepository(
  settings: RepositorySettings,
  root: string,
  remote: boolean,
): Promise<ChannelRepository> {
  const where = location(settings, root, remote);
  const base = { fqrn: settings.name, location: where, rollingTag: settings.rollingTag };
  if (!isUrl(where) && !existsSync(path.join(where, '.cvmfspublished')))
    return { ...base, exists: false, tags: [] };
  const publicKey = path.join(keysDirectory(settings, root), `${settings.name}.pub`);
  const repository = await openVerifiedRepository(openSource(where), {
    masterKeys: [await loadPublicKey(publicKey)],
    fqrn: settings.name,
    allowExpired: true,
  }).catch((error: unknown) => {
    if (isUcvmError(error, 'REPO_NOT_FOUND')) return undefined;
    throw error;
  });
  if (repository === undefined) return { ...base, exists: false, tags: [] };
  try {
    return { ...base, exists: true, tags: await repository.tags() };
  } finally {
    repository.close();
  }
}
