import { createHash } from 'node:crypto';
import { hashToHex } from '../hash.js';
import type { CatalogEntry } from './entry.js';
import { encodeFlags } from './flags.js';
import { encodeXattrs } from './xattr.js';

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
  const hasher = createHash('sha1');
  for (const entry of entries) {
    const xattr =
      entry.xattrs === undefined ? '' : (encodeXattrs(entry.xattrs)?.toString('hex') ?? '');
    const chunks = (entry.chunks ?? [])
      .map((c) => `${c.offset}+${c.size}=${hashToHex(c.hash)}`)
      .join(',');
    hasher.update(
      [
        entry.path,
        entry.mode,
        entry.size,
        entry.mtime,
        entry.mtimeNs ?? '',
        entry.uid,
        entry.gid,
        entry.hardlinkGroup,
        entry.linkcount,
        entry.hash === undefined ? '' : hashToHex(entry.hash),
        encodeFlags(entry),
        entry.symlink,
        xattr,
        chunks,
      ].join('\0'),
    );
    hasher.update('\n');
  }
  for (const [path, digest] of [...childDigests].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hasher.update(`nested\0${path}\0${digest}\n`);
  }
  return hasher.digest('hex');
}
