import type { Tag } from '../cvmfs/history.js';
import { UcvmError } from '../errors.js';
import type { Channel } from '../manifest/schema.js';
import type { RepositorySettings } from '../pipeline/index.js';
import {
  channelSettings,
  loadPipeline,
  location,
  openChannelRepository,
} from '../reconcile/load.js';

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

/** The settings of the repository pipeline/pipeline.yaml gives `channel`. */
export async function channelRepositorySettings(
  root: string,
  channel: Channel,
): Promise<RepositorySettings> {
  const pipeline = await loadPipeline(root);
  const name = pipeline.channels[channel];
  if (name === undefined)
    throw new UcvmError('USAGE', `channel ${channel} has no repository in pipeline/pipeline.yaml`, {
      details: `The pipeline gives repositories to: ${Object.keys(pipeline.channels).join(', ') || '(none)'}.`,
    });
  const settings = channelSettings(pipeline, channel);
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
  const opened = await openChannelRepository(settings, { root, remote }, []);
  if (opened.repository === undefined) return { ...base, exists: false, tags: [] };
  try {
    return { ...base, exists: true, tags: await opened.repository.tags() };
  } finally {
    opened.repository.close();
  }
}
