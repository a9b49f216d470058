import type { Dirent } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../errors.js';

/** Every entry under `dir` (not `dir` itself), depth first, parents before children; no symlink is followed. */
export async function* walkTree(dir: string): AsyncGenerator<{ path: string; entry: Dirent }> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    yield { path: full, entry };
    if (entry.isDirectory()) yield* walkTree(full);
  }
}

/**
 * Resolves a tree path to a host path the way a chroot would: symlinks in the directories on
 * the way are followed inside `root` (an absolute target means `root`), so a link such as
 * `/etc/resolv.conf -> /run/...` can never lead outside the tree. The last component is not
 * followed. Missing directories are allowed (the result names where they would be).
 */
export async function resolveInTree(root: string, treePath: string): Promise<string> {
  const parts = treePath.split('/').filter((part) => part !== '');
  const last = parts.pop();
  if (last === undefined)
    throw new UcvmError('TREE_INVALID', `${treePath} names the root of the tree`);
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

/**
 * Resolves a directory of the tree, its own last component included, as a chroot would: the
 * host path of what `treePath` names inside the tree, never outside it.
 */
export async function resolveDirInTree(root: string, treePath: string): Promise<string> {
  return resolveInTree(root, `${treePath.replace(/\/+$/, '')}/.`);
}
