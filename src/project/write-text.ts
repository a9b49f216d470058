import { rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Replaces a project file (a manifest) in one rename, keeping its mode: never half-written. */
export async function writeProjectText(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const { mode } = await stat(file);
  await writeFile(temp, text, { mode: mode & 0o7777, flag: 'wx' });
  await rename(temp, file);
}
