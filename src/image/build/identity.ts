import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import type { Channel } from '../../manifest/schema.js';
import type { PipelineConfig } from '../../pipeline/schema.js';
import { channelSettings } from '../../reconcile/load.js';
import type { ImageInputs } from '../inputs/schema.js';
import { bootSettings, settingsCmdline } from './settings.js';
import type { BootSettings, RootSource } from './settings.js';
import { steeringDir } from './steering-dir.js';

export interface ImageIdentity {
  channel: Channel;
  name: string;
  version: string;
  settings: BootSettings;
  cmdline: string;
  /** sha256 of everything the image's bytes depend on: a changed identity means a new image. */
  identity: string;
}

/** Version of the builder (its code shapes the bytes too). */
const BUILDER = 'ucvm-image-1';

/**
 * What a channel's image is made of, as one digest: the pinned inputs, the channel's boot
 * settings and command line, and the steering scripts it carries.
 */
export async function imageIdentity(
  inputs: ImageInputs,
  pipeline: PipelineConfig,
  channel: Channel,
  rootSource: RootSource,
): Promise<ImageIdentity> {
  const repository = channelSettings(pipeline, channel);
  if (repository === undefined)
    throw new UcvmError(
      'PIPELINE_INVALID',
      `channel ${channel} has no repository in pipeline.yaml`,
    );
  const settings = bootSettings(pipeline, repository, rootSource);
  const cmdline = [settingsCmdline(settings), pipeline.image?.cmdline ?? ''].join(' ').trim();
  const steering = await steeringHashes();
  const canonical = JSON.stringify({
    builder: BUILDER,
    inputs: { ...inputs, packages: Object.fromEntries(Object.entries(inputs.packages).sort()) },
    client: rootSource === 'cvmfs' ? (inputs.client ?? null) : null,
    settings,
    cmdline,
    steering,
  });
  return {
    channel,
    name: `ucvm-${channel}-${inputs.version}`,
    version: inputs.version,
    settings,
    cmdline,
    identity: createHash('sha256').update(canonical).digest('hex'),
  };
}

let steeringCache: Promise<Record<string, string>> | undefined;

/** The steering scripts are part of this program: hashed once per process, not per channel. */
function steeringHashes(): Promise<Record<string, string>> {
  steeringCache ??= hashTree(steeringDir());
  return steeringCache;
}

async function hashTree(dir: string): Promise<Record<string, string>> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
  const hashes: Record<string, string> = {};
  for (const file of files)
    hashes[file] = createHash('sha256')
      .update(await readFile(path.join(dir, file)))
      .digest('hex');
  return hashes;
}
