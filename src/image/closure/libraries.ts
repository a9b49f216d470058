import { lstat, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { elfLinkage, isElf } from './elf.js';

/** Where the x86-64 loader looks when a file names no run path (Debian's multiarch layout). */
export const DEFAULT_LIBRARY_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
] as const;

export interface LibraryClosure {
  /**
   * Every tree path the programs need, sorted: the programs, their interpreter and libraries,
   * and every symbolic link on the way to them (an initramfs holds the links as links).
   */
  paths: string[];
  /** Libraries no search directory of the tree holds, with who needs them. */
  missing: Array<{ library: string; neededBy: string }>;
}

/**
 * A tree path with every symbolic link followed inside the tree (as a chroot would: an
 * absolute target starts again at the tree root, `..` stops there), and every link met on the
 * way, directories included (`/lib` → `usr/lib`). Undefined if it does not exist.
 */
export async function followInTree(
  root: string,
  treePath: string,
): Promise<{ target: string; links: string[] } | undefined> {
  const links: string[] = [];
  const parts = treePath.split('/').filter(Boolean);
  const resolved: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const inTree = `/${[...resolved, part].join('/')}`;
    const info = await lstat(path.join(root, ...resolved, part)).catch(() => undefined);
    if (info === undefined) return undefined;
    if (info.isSymbolicLink()) {
      if ((hops += 1) > 40)
        throw new UcvmError('TREE_INVALID', `too many symbolic links from ${treePath}`);
      links.push(inTree);
      const target = await readlink(path.join(root, ...resolved, part));
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    if (parts.length > 0 && !info.isDirectory()) return undefined;
    resolved.push(part);
  }
  return { target: `/${resolved.join('/')}`, links };
}

/**
 * The shared-library closure of programs inside a tree, resolved in that tree only (never on
 * the build machine): `DT_NEEDED` through `DT_RPATH` (when there is no `DT_RUNPATH`), then
 * `DT_RUNPATH`, then the default directories, with `$ORIGIN` expanded, as ld.so searches.
 */
export async function libraryClosure(
  root: string,
  programs: readonly string[],
): Promise<LibraryClosure> {
  const paths = new Set<string>();
  const missing: LibraryClosure['missing'] = [];
  const seen = new Set<string>();
  const queue = [...programs];
  while (queue.length > 0) {
    const wanted = queue.shift()!;
    const found = await followInTree(root, wanted);
    if (found === undefined)
      throw new UcvmError('BUILD_FAILED', `${wanted} is not in the tree ${root}`, {
        where: { path: wanted },
      });
    for (const link of found.links) paths.add(link);
    paths.add(found.target);
    if (seen.has(found.target)) continue;
    seen.add(found.target);
    const bytes = await readFile(path.join(root, found.target));
    if (!isElf(bytes)) continue;
    const linkage = elfLinkage(bytes, found.target);
    if (linkage.interpreter !== undefined) queue.push(linkage.interpreter);
    const origin = path.posix.dirname(found.target);
    const expand = (dirs: readonly string[]) =>
      dirs.map((dir) => dir.replaceAll('$ORIGIN', origin).replaceAll('${ORIGIN}', origin));
    const search = [
      ...(linkage.runpath.length === 0 ? expand(linkage.rpath) : []),
      ...expand(linkage.runpath),
      ...DEFAULT_LIBRARY_DIRS,
    ];
    for (const library of linkage.needed) {
      const location = library.includes('/')
        ? library
        : await firstPresent(
            root,
            search.map((dir) => path.posix.join(dir, library)),
          );
      if (location === undefined) missing.push({ library, neededBy: found.target });
      else queue.push(location);
    }
  }
  return { paths: [...paths].sort(), missing };
}

async function firstPresent(
  root: string,
  candidates: readonly string[],
): Promise<string | undefined> {
  for (const candidate of candidates)
    if ((await followInTree(root, candidate)) !== undefined) return candidate;
  return undefined;
}
