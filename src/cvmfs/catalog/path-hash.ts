import { hash } from 'node:crypto';

/** A path hash split as the catalog stores it: two little-endian signed 64-bit halves of its MD5. */
export interface PathHash {
  high: bigint;
  low: bigint;
}

export function pathHash(path: string): PathHash {
  const digest = hash('md5', path, 'buffer');
  return { high: digest.readBigInt64LE(0), low: digest.readBigInt64LE(8) };
}

/** The root entry of the root catalog has parent (0, 0), so it is never its own child. */
export const NULL_PATH_HASH: PathHash = { high: 0n, low: 0n };

/** Parent of a repository path; the root is the empty string. */
export function parentPath(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '' : path.slice(0, at);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(parent: string, name: string): string {
  return `${parent}/${name}`;
}

/** Normalizes user input (`/`, `a/b/`, `/a//b`) to the catalog form (`""`, `/a/b`). */
export function normalizeRepoPath(input: string): string {
  const parts = input.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new Error(`path must not contain "..": ${input}`);
  return parts.length === 0 ? '' : `/${parts.join('/')}`;
}

/** True if `path` is `mountpoint` or lies below it, component-wise. */
export function isWithin(path: string, mountpoint: string): boolean {
  return mountpoint === '' || path === mountpoint || path.startsWith(`${mountpoint}/`);
}
