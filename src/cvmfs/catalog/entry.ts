import type { ContentHash } from '../hash.js';
import type { Xattrs } from './xattr.js';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

export type EntryKind = 'directory' | 'regular' | 'symlink' | 'special';

export function kindOfMode(mode: number): EntryKind {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return 'directory';
    case S_IFREG:
      return 'regular';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'special';
  }
}

export type Compression = 'zlib' | 'none';

export interface Chunk {
  offset: number;
  size: number;
  hash: ContentHash;
}

/** One directory entry of a file catalog, in repository terms. */
export interface CatalogEntry {
  /** Repository path: `""` for the root, else `/a/b`. */
  path: string;
  /** Full st_mode, including the file-type bits. */
  mode: number;
  /** Regular file: uncompressed length; symlink: target length; device: dev_t; directory: stat size. */
  size: number;
  mtime: number;
  mtimeNs?: number | undefined;
  uid: number;
  gid: number;
  /** Catalog-local hard-link group (0 = none) and link count (directories: 2 + subdirectories). */
  hardlinkGroup: number;
  linkcount: number;
  /** Content object of an unchunked regular file. */
  hash?: ContentHash | undefined;
  compression: Compression;
  chunks?: readonly Chunk[] | undefined;
  /** Symlink target; `''` for anything else. */
  symlink: string;
  xattrs?: Xattrs | undefined;
  /** Directory whose content lives in a nested catalog (flag 2), or root of a nested catalog (flag 32). */
  nestedMountpoint?: boolean;
  nestedRoot?: boolean;
  hidden?: boolean;
}

export interface NestedCatalogRef {
  path: string;
  hashHex: string;
  size: number;
}

export function entryKind(entry: CatalogEntry): EntryKind {
  return kindOfMode(entry.mode);
}
