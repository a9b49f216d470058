import { constants } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';

export type OpenResult =
  { kind: 'file'; handle: FileHandle; size: number } | { kind: 'refused'; status: 403 | 404 };

// O_NONBLOCK: opening a FIFO for reading must not wait for a writer (it is refused after fstat).
const openFlags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

const missingCodes = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);
const deniedCodes = new Set(['EACCES', 'EPERM']);

function refusal(error: unknown): OpenResult | undefined {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (missingCodes.has(code)) return { kind: 'refused', status: 404 };
  if (deniedCodes.has(code)) return { kind: 'refused', status: 403 };
  return undefined;
}

function isInside(realRoot: string, realPath: string): boolean {
  return (
    realPath === realRoot || realPath.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)
  );
}

/**
 * Where the opened descriptor really is, where the system says so (Linux /proc): closes the
 * race between resolving the parent directories and opening the file.
 */
async function descriptorPath(handle: FileHandle): Promise<string | undefined> {
  try {
    return (await readlink(`/proc/self/fd/${handle.fd}`)).replace(/ \(deleted\)$/, '');
  } catch {
    return undefined;
  }
}

/**
 * Opens `relative` (a path with no `.` or `..` segments) under `root` for reading, once: the
 * caller streams from the returned handle and closes it. Refuses (404) anything that is not a
 * regular file, a symlink as the last component, and a file whose parent directories resolve
 * outside `root`; other I/O errors are thrown.
 */
export async function openInside(root: string, relative: string): Promise<OpenResult> {
  let realRoot: string;
  let realParent: string;
  try {
    realRoot = await realpath(root);
    realParent = await realpath(join(root, dirname(relative)));
  } catch (error) {
    const refused = refusal(error);
    if (refused !== undefined) return refused;
    throw error;
  }
  if (!isInside(realRoot, realParent)) return { kind: 'refused', status: 404 };

  let handle: FileHandle;
  try {
    handle = await open(join(realParent, basename(relative)), openFlags);
  } catch (error) {
    const refused = refusal(error);
    if (refused !== undefined) return refused;
    throw error;
  }
  try {
    const stats = await handle.stat();
    const where = await descriptorPath(handle);
    if (!stats.isFile() || (where !== undefined && !isInside(realRoot, where))) {
      await handle.close();
      return { kind: 'refused', status: 404 };
    }
    return { kind: 'file', handle, size: stats.size };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}
