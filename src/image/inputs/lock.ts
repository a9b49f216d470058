import path from 'node:path';
import { invalidFileError } from '../../manifest/load.js';
import { validateYamlText } from '../../manifest/validate-yaml.js';
import { readProjectText } from '../../project/read-text.js';
import { writeProjectText } from '../../project/write-text.js';
import { silentLogger } from '../../log.js';
import type { Logger } from '../../log.js';
import { resolveImageClosure } from './closure.js';
import { IMAGE_FILE } from './load.js';
import { ImageInputs } from './schema.js';
import type { ImagePackagePin } from './schema.js';
import { imagePackageSource } from './sources.js';
import type { ImageSourceOptions } from './sources.js';
import { writeImagePins } from './write-pins.js';

export interface ImageLockOptions extends ImageSourceOptions {
  /** Take the newest versions instead of keeping the pinned ones. */
  upgrade?: boolean;
  logger?: Logger;
}

export interface ImageLockResult {
  file: string;
  changed: boolean;
  added: string[];
  removed: string[];
  updated: Array<{ name: string; from: string; to: string }>;
  pins: Map<string, ImagePackagePin>;
}

/**
 * `ucvm image lock`: pins the kernel, the programs with their dependencies and the file
 * packages at exact versions and .deb hashes from the signed package index, keeping pinned
 * versions the index still has (unless `upgrade`). Only the `packages` block is rewritten.
 */
export async function lockImage(
  root: string,
  options: ImageLockOptions = {},
): Promise<ImageLockResult> {
  const file = path.join(root, IMAGE_FILE);
  const text = await readProjectText(file);
  // Schema only: an unlocked file is exactly what lock is for.
  const { value: inputs, issues } = validateYamlText(text, IMAGE_FILE, ImageInputs);
  if (inputs === undefined) throw invalidFileError('IMAGE_INVALID', IMAGE_FILE, issues);
  const logger = options.logger ?? silentLogger;
  const source = await imagePackageSource(root, inputs.base, { ...options, logger });
  const index = await source.index();
  const previous = new Map(Object.entries(inputs.packages));
  const pins = new Map(
    options.upgrade === true
      ? []
      : [...previous].map(([name, pin]) => [name, pin.version] as const),
  );
  const closure = resolveImageClosure({
    records: index.all(),
    architecture: inputs.base.architecture,
    kernel: inputs.kernel,
    programs: inputs.programs,
    files: inputs.files,
    pins,
  });
  const locked = new Map<string, ImagePackagePin>();
  for (const [name, record] of closure)
    locked.set(name, { version: record.version, sha256: record.sha256 });
  const updatedText = writeImagePins(text, locked);
  const changed = updatedText !== text;
  if (changed) await writeProjectText(file, updatedText);
  return { file: IMAGE_FILE, changed, pins: locked, ...difference(previous, locked) };
}

function difference(
  before: ReadonlyMap<string, ImagePackagePin>,
  after: ReadonlyMap<string, ImagePackagePin>,
) {
  const added = [...after.keys()].filter((name) => !before.has(name));
  const removed = [...before.keys()].filter((name) => !after.has(name));
  const updated = [...after]
    .filter(([name, pin]) => {
      const old = before.get(name);
      return old !== undefined && (old.version !== pin.version || old.sha256 !== pin.sha256);
    })
    .map(([name, pin]) => ({ name, from: before.get(name)!.version, to: pin.version }));
  return { added, removed, updated };
}
