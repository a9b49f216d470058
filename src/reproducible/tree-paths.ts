import { constants, type Dirent, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rm } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { compareNames } from './ordering.js';

/*
 * Operations on a built tree, confined to it the way a chroot would confine them: every tree
 * path (`/etc/machine-id`) is resolved component by component with lstat, symlinks on the way
 * are followed inside the tree (an absolute target starts again at the tree root, `..` stops at
 * it), and the last component is never followed. Nothing here can read or change the build
 * machine through a link in the tree. Everything that touches a built tree goes through these.
 */

/** Every entry under `dir` (not `dir` itself), depth first, parents before children; no symlink is followed. */
export async function* walkTree(dir: string): AsyncGenerator<{ path: string; entry: Dirent }> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  entries.sort((a, b) => compareNames(a.name, b.name));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    yield { path: full, entry };
    if (entry.isDirectory()) yield* walkTree(full);
  }
}

/**
 * The host path of what `treePath` names inside the tree at `root`, its last component not
 * followed. Missing directories are allowed (the result names where they would be).
 */
export async function resolveInTree(root: string, treePath: string): Promise<string> {
  const parts = treePath.split('/').filter((part) => part !== '');
  const last = parts.pop();
  if (last === undefined || last === '.' || last === '..')
    throw new UcvmError('TREE_INVALID', `${treePath} names no entry of the tree`);
  const resolved: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift() ?? '';
    if (part === '.' || part === '') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = path.join(root, ...resolved, part);
    const info = await lstat(host).catch(() => undefined);
    if (info?.isSymbolicLink() === true) {
      if ((hops += 1) > 40)
        throw new UcvmError('TREE_INVALID', `too many symbolic links under ${treePath}`);
      const target = await readlink(host);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved, last);
}

/** The host path of a directory of the tree, its own last component followed inside the tree too. */
export async function resolveDirInTree(root: string, treePath: string): Promise<string> {
  const trimmed = treePath.replace(/\/+$/, '');
  if (trimmed === '') return root;
  return path.join(await resolveInTree(root, `${trimmed}/.placeholder`), '..');
}

/** lstat of a tree path, undefined when nothing is there. */
export async function lstatInTree(root: string, treePath: string): Promise<Stats | undefined> {
  return lstat(await resolveInTree(root, treePath)).catch((error: unknown) => {
    if (isMissing(error)) return undefined;
    throw error;
  });
}

/** Removes a file or symlink of the tree (the link itself); nothing there is fine. */
export async function removeInTree(root: string, treePath: string): Promise<void> {
  const host = await resolveInTree(root, treePath);
  const info = await lstat(host).catch(() => undefined);
  if (info === undefined) return;
  if (info.isDirectory())
    throw new UcvmError('TREE_INVALID', `${treePath} is a directory, expected a file`);
  await rm(host, { force: true });
}

/** The names in a directory of the tree, sorted; empty when it does not exist. */
export async function readDirInTree(root: string, treePath: string): Promise<string[]> {
  const names = await readdir(await resolveDirInTree(root, treePath)).catch((error: unknown) => {
    if (isMissing(error)) return [];
    throw error;
  });
  return names.sort(compareNames);
}

/** Removes everything inside a directory of the tree (links themselves, never what they name). */
export async function emptyDirInTree(root: string, treePath: string): Promise<void> {
  const host = await resolveDirInTree(root, treePath);
  for (const name of await readdir(host).catch(() => [])) {
    // rm never follows a symlink, not even inside a directory it removes recursively.
    await rm(path.join(host, name), { recursive: true, force: true });
  }
}

/** The bytes of a regular file of the tree; a symlink, FIFO or device there is TREE_INVALID. */
export async function readFileInTree(root: string, treePath: string): Promise<Buffer> {
  const host = await resolveInTree(root, treePath);
  const notRegular = (): UcvmError =>
    new UcvmError('TREE_INVALID', `${treePath} in the built tree is not a regular file`, {
      details: `${host} is a link or a special file where dpkg writes regular files; it is not read.`,
    });
  const handle = await open(
    host,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  ).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw notRegular();
    if (isMissing(error))
      throw new UcvmError('TREE_INVALID', `${treePath} is missing from the built tree`);
    throw error;
  });
  try {
    if (!(await handle.stat()).isFile()) throw notRegular();
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

export interface WriteInTreeOptions {
  mode: number;
  /** Seconds since 1970 for atime and mtime; default: the time of writing. */
  mtime?: number;
  /** Owner and group (only as root). */
  owner?: { uid: number; gid: number };
}

/**
 * Writes a regular file of the tree. A file or symlink already there is removed first (a link
 * is replaced, never written through), a directory there is TREE_INVALID; missing parent
 * directories are made (0755). The new file is created with O_EXCL and O_NOFOLLOW, and owner,
 * mode and times are set on the descriptor, so nothing but that file can be changed.
 */
export async function writeFileInTree(
  root: string,
  treePath: string,
  content: string | Buffer,
  options: WriteInTreeOptions,
): Promise<void> {
  await removeInTree(root, treePath);
  const host = await resolveInTree(root, treePath);
  await mkdir(path.dirname(host), { recursive: true, mode: 0o755 });
  const handle = await open(
    host,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.writeFile(content);
    // chown before chmod (chown clears setuid bits); chmod after creating, so the umask has no say.
    if (options.owner !== undefined) await handle.chown(options.owner.uid, options.owner.gid);
    await handle.chmod(options.mode);
    if (options.mtime !== undefined) await handle.utimes(options.mtime, options.mtime);
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
