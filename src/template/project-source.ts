import { constants } from 'node:fs';
import { lstat, open, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../errors.js';

/**
 * The bytes of a file of the project (an extra file's `source`). It must be a regular file
 * inside the project root once every symlink is resolved: a committed link to the build
 * machine's keys must not carry them into the published tree. The checked file is the one
 * read: opened without following a link (and without blocking on a FIFO), its descriptor must
 * be the same file (device and inode) and, where /proc tells, lie inside the project too, so a
 * directory swapped for a link between the check and the open is caught.
 */
export async function readProjectSource(
  root: string,
  source: string,
  field: string,
): Promise<Buffer> {
  const refuse = (why: string): UcvmError =>
    new UcvmError('MANIFEST_INVALID', `${field} ${JSON.stringify(source)}: ${why}`, {
      details: `An extra file's source must be a regular file of the repository (${root}), not a link out of it.`,
      where: { path: field },
    });
  const projectRoot = await realpath(root);
  const inside = (real: string): boolean => real.startsWith(projectRoot + path.sep);
  let real: string;
  try {
    real = await realpath(path.join(projectRoot, source));
  } catch (error) {
    throw refuse(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!inside(real)) throw refuse('resolves outside the repository');
  const checked = await lstat(real).catch((error: unknown) => {
    throw refuse(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  });
  if (!checked.isFile()) throw refuse('is not a regular file');
  const handle = await open(
    real,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  ).catch(() => {
    throw refuse('cannot be opened');
  });
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw refuse('is not a regular file');
    if (opened.dev !== checked.dev || opened.ino !== checked.ino)
      throw refuse('changed while it was read');
    const fdPath = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
    if (fdPath !== undefined && !inside(fdPath)) throw refuse('resolves outside the repository');
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
