import { readProjectText } from '../project/read-text.js';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { Channel } from '../manifest/index.js';
import type { SourceEntry } from '../packages/apt/index.js';
import { loadPipelineText } from '../pipeline/index.js';
import { lockManifest } from './lock.js';
import type { LockOptions, LockResult } from './lock.js';
import { sourcesFromPipeline } from './sources.js';

export interface LockChannelOptions extends Omit<LockOptions, 'manifestPath'> {
  /** Root of the git repository holding manifests/ and pipeline/ (default `.`). */
  root?: string;
  channel: string;
}

/**
 * Locks `manifests/<channel>.yaml` under `root`. The package sources are, in this order: the
 * explicit `sources`, the `sources` of pipeline/pipeline.yaml, the machine's apt sources.
 */
export async function lockChannel(options: LockChannelOptions): Promise<LockResult> {
  const channel = Channel.safeParse(options.channel);
  if (!channel.success) {
    throw new UcvmError('USAGE', `unknown channel ${JSON.stringify(options.channel)}`, {
      details: `Channels: ${Channel.options.join(', ')}.`,
    });
  }
  const root = options.root ?? '.';
  const sources = options.sources ?? (await pipelineSources(root));
  return lockManifest({
    ...options,
    manifestPath: path.join(root, 'manifests', `${channel.data}.yaml`),
    ...(sources !== undefined && { sources }),
  });
}

async function pipelineSources(root: string): Promise<SourceEntry[] | undefined> {
  const file = path.join(root, 'pipeline', 'pipeline.yaml');
  let text: string;
  try {
    text = await readProjectText(file, { code: 'PIPELINE_INVALID' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const sources = loadPipelineText(text, file).sources;
  return sources === undefined ? undefined : sourcesFromPipeline(sources, root);
}
