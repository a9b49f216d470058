import { createHash } from 'node:crypto';
import { hashToHex } from '../hash.js';
import type { CatalogEntry } from './entry.js';
import { encodeFlags } from './flags.js';
import { encodeXattrs } from './xattr.js';

/** One entry as a line of the tree digest: every field a catalog row holds. */
function entryLine(entry: CatalogEntry): string {
  const xattr =
    entry.xattrs === undefined ? '' : (encodeXattrs(entry.xattrs)?.toString('hex') ?? '');
  const chunks =
    entry.chunks === undefined
      ? ''
      : entry.chunks.map((c) => `${c.offset}+${c.size}=${hashToHex(c.hash)}`).join(',');
  const hash = entry.hash === undefined ? '' : hashToHex(entry.hash);
  return `${entry.path}\0${entry.mode}\0${entry.size}\0${entry.mtime}\0${entry.mtimeNs ?? ''}\0${entry.uid}\0${entry.gid}\0${entry.hardlinkGroup}\0${entry.linkcount}\0${hash}\0${encodeFlags(entry)}\0${entry.symlink}\0${xattr}\0${chunks}\n`;
}

/**
 * A digest of what a catalog *says* (its entries and chunks), independent of its revision,
 * timestamps and of the hashes of its children's catalog objects. Two catalogs with the same
 * content digest describe the same files, so an unchanged subtree can keep its catalog object.
 * `childDigests` maps each nested mount point to the child's tree digest, which makes this a
 * Merkle digest of the whole subtree.
 */
export function catalogTreeDigest(
  entries: readonly CatalogEntry[],
  childDigests: ReadonlyMap<string, string>,
): string {
  // One update over all lines: per-entry updates cost more than the hashing itself.
  const hasher = createHash('sha1');
  hasher.update(entries.map(entryLine).join(''));
  for (const [path, digest] of [...childDigests].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hasher.update(`nested\0${path}\0${digest}\n`);
  }
  return hasher.digest('hex');
}
