import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Channel } from '../manifest/schema.js';
import type { PipelineConfig } from '../pipeline/schema.js';
import { imageIdentity } from './build/identity.js';
import { IMAGE_FILE, loadImageInputs } from './inputs/load.js';

export interface ImagePlan {
  channel: Channel;
  name: string;
  action: 'build' | 'none';
  /** Why: no image yet, or what the last build's description says differs. */
  reason: string;
  identity: string;
  /** The description of the last build, where one was found. */
  built?: string;
}

/** Where a pipeline's images go. */
export function imageOutput(root: string, pipeline: PipelineConfig): string {
  return path.resolve(root, pipeline.image?.output ?? 'dist/images');
}

/**
 * Each channel's boot image: built when no build of the same inputs is in the output
 * directory (its `<name>.json` records the identity of what it was built from). Empty when the
 * project has no pipeline/image.yaml.
 */
export async function planImages(
  root: string,
  pipeline: PipelineConfig,
  channels: readonly Channel[],
): Promise<ImagePlan[]> {
  if (!existsSync(path.join(root, IMAGE_FILE))) return [];
  const inputs = await loadImageInputs(root);
  const out = imageOutput(root, pipeline);
  const plans: ImagePlan[] = [];
  for (const channel of channels) {
    const wanted = await imageIdentity(
      inputs,
      pipeline,
      channel,
      pipeline.image?.rootSource ?? 'cvmfs',
    );
    const description = path.join(out, `${wanted.name}.json`);
    const built = await readIdentity(description);
    const plan: ImagePlan = {
      channel,
      name: wanted.name,
      identity: wanted.identity,
      action: built === wanted.identity ? 'none' : 'build',
      reason:
        built === undefined
          ? 'no image of this version yet'
          : built === wanted.identity
            ? 'up to date'
            : 'its inputs changed since the last build',
    };
    if (built !== undefined) plan.built = description;
    plans.push(plan);
  }
  return plans;
}

async function readIdentity(file: string): Promise<string | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { identity?: unknown };
    return typeof parsed.identity === 'string' ? parsed.identity : '';
  } catch {
    return undefined;
  }
}
