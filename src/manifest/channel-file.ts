import path from 'node:path';
import { readProjectText } from '../project/read-text.js';
import { invalidFileError, validateManifestFile } from './load.js';
import type { Manifest } from './schema.js';

/** Reads and validates `manifests/<channel>.yaml`; MANIFEST_INVALID lists every issue. */
export async function loadChannelManifest(root: string, channel: string): Promise<Manifest> {
  const file = `manifests/${channel}.yaml`;
  const { manifest, issues } = await validateManifestFile(file, (name) =>
    readProjectText(path.join(root, name)),
  );
  if (manifest === undefined) throw invalidFileError('MANIFEST_INVALID', file, issues);
  return manifest;
}
