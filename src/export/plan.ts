import {
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  type CatalogEntry,
} from '../cvmfs/catalog/entry.js';
import { UcvmError } from '../errors.js';
import type { Snapshot } from '../reader/snapshot.js';
import { compareNames } from '../reproducible/ordering.js';

export type ExportKind =
  'directory' | 'regular' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

/** One entry of a snapshot as it goes into an image: what the catalog says, checked. */
export interface ExportEntry {
  /** Repository path: `''` for the root, else `/a/b`. */
  path: string;
  kind: ExportKind;
  /** Permission bits (`mode & 0o7777`). */
  perm: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (squashfs keeps whole seconds). */
  mtime: number;
  /** Regular files: bytes of content. */
  size: number;
  /** Symlinks: the target as stored. */
  target?: string;
  /** Devices: major and minor. */
  device?: { major: number; minor: number };
  /** Extended attributes, by name. */
  xattrs?: ReadonlyMap<string, Buffer>;
  /**
   * Hard links: the first path (in path order) of the entry's link group, on every member of a
   * group of two or more; the first member is written, the others are linked to it.
   */
  linkedTo?: string;
  /** Members of the link group (1 for files that are not hard linked). */
  nlink: number;
  /** The catalog entry (content is read through it). */
  entry: CatalogEntry;
}

export interface ExportPlan {
  /** Parents before children, in path order; the root first. */
  entries: ExportEntry[];
  files: number;
  /** Bytes of regular-file content, each hard-link group once. */
  bytes: number;
  /** `<path> <name>` of each POSIX ACL left out (squashfs cannot hold them). */
  droppedAcls: string[];
}

/** A catalog entry with the mount point of the catalog it came from (hard-link groups are per catalog). */
export interface PlacedEntry {
  entry: CatalogEntry;
  catalog: string;
}

/** The largest mtime a squashfs inode holds (unsigned 32-bit seconds). */
export const SQUASHFS_MAX_TIME = 0xffffffff;

const KINDS: Record<number, ExportKind> = {
  [S_IFDIR]: 'directory',
  [S_IFREG]: 'regular',
  [S_IFLNK]: 'symlink',
  [S_IFCHR]: 'chardev',
  [S_IFBLK]: 'blockdev',
  [S_IFIFO]: 'fifo',
  [S_IFSOCK]: 'socket',
};

/** Major and minor of a Linux dev_t as the catalog stores it (glibc's encoding). */
export function decodeDevice(dev: number): { major: number; minor: number } {
  const value = BigInt(dev);
  const major = Number(((value >> 8n) & 0xfffn) | ((value >> 32n) & ~0xfffn));
  const minor = Number((value & 0xffn) | ((value >> 12n) & ~0xffn));
  return { major, minor };
}

function corrupt(path: string, message: string): UcvmError {
  return new UcvmError('REPO_CORRUPT', `${path === '' ? '/' : path}: ${message}`, {
    where: { path: path === '' ? '/' : path },
    details: 'The snapshot holds an entry that cannot be written as a file; nothing was exported.',
  });
}

/** Every entry of a snapshot once, with its catalog (the nested roots, not the transition rows). */
export async function collectEntries(snapshot: Snapshot): Promise<PlacedEntry[]> {
  const result: PlacedEntry[] = [];
  for await (const catalog of snapshot.catalogs()) {
    for (const entry of catalog.file.entries()) {
      if (entry.nestedMountpoint === true) continue;
      result.push({ entry, catalog: catalog.mountpoint });
    }
  }
  return result;
}

/**
 * Checks the entries of a snapshot and orders them for writing. Refused: a path with an empty,
 * `.` or `..` component or a NUL, a path twice, an entry whose parent is not a directory of the
 * snapshot, a type the image cannot hold, a time outside squashfs's range, a symlink target
 * with NUL, a regular file whose size is not a byte count.
 */
export function planExport(placed: readonly PlacedEntry[]): ExportPlan {
  const byPath = new Map<string, PlacedEntry>();
  for (const item of placed) {
    if (byPath.has(item.entry.path))
      throw corrupt(item.entry.path, 'the path is in the snapshot twice');
    byPath.set(item.entry.path, item);
  }
  const root = byPath.get('');
  if (root === undefined || (root.entry.mode & S_IFMT) !== S_IFDIR)
    throw corrupt('', 'the snapshot has no root directory');
  const ordered = [...byPath.values()].sort((a, b) => compareNames(a.entry.path, b.entry.path));
  const groups = new Map<string, string[]>();
  const entries: ExportEntry[] = [];
  const droppedAcls: string[] = [];
  let files = 0;
  let bytes = 0;
  for (const { entry, catalog } of ordered) {
    const path = entry.path;
    if (path !== '') {
      if (!path.startsWith('/')) throw corrupt(path, 'the path is not absolute');
      const parts = path.slice(1).split('/');
      if (parts.some((part) => part === '' || part === '.' || part === '..' || part.includes('\0')))
        throw corrupt(path, 'the name is empty, `.`, `..` or holds NUL');
      const parent = byPath.get(path.slice(0, path.lastIndexOf('/')));
      if (parent === undefined || (parent.entry.mode & S_IFMT) !== S_IFDIR)
        throw corrupt(path, 'its parent is not a directory of the snapshot');
    }
    const kind = KINDS[entry.mode & S_IFMT];
    if (kind === undefined)
      throw corrupt(path, `file type 0${(entry.mode & S_IFMT).toString(8)} is unknown`);
    if (!Number.isSafeInteger(entry.mtime) || entry.mtime < 0 || entry.mtime > SQUASHFS_MAX_TIME)
      throw new UcvmError(
        'LIMIT_EXCEEDED',
        `${path === '' ? '/' : path}: mtime ${entry.mtime} does not fit a squashfs image`,
        { details: 'Squashfs keeps unsigned 32-bit seconds (1970 to 2106).' },
      );
    for (const id of [entry.uid, entry.gid])
      if (!Number.isSafeInteger(id) || id < 0 || id > 0xfffffffe)
        throw corrupt(path, `owner ${id} is not a uid or gid`);
    const item: ExportEntry = {
      path,
      kind,
      perm: entry.mode & 0o7777,
      uid: entry.uid,
      gid: entry.gid,
      mtime: entry.mtime,
      size: 0,
      nlink: 1,
      entry,
    };
    if (kind === 'regular') {
      if (!Number.isSafeInteger(entry.size) || entry.size < 0)
        throw corrupt(path, `size ${entry.size} is not a byte count`);
      item.size = entry.size;
      if (entry.hardlinkGroup !== 0) {
        const key = `${catalog}\0${entry.hardlinkGroup}`;
        const members = groups.get(key);
        if (members === undefined) groups.set(key, [path]);
        else {
          members.push(path);
          item.linkedTo = members[0];
        }
      }
      if (item.linkedTo === undefined) {
        files++;
        bytes += entry.size;
      }
    }
    if (kind === 'symlink') {
      if (entry.symlink === '' || entry.symlink.includes('\0'))
        throw corrupt(path, 'the symbolic link has no target or one with NUL');
      item.target = entry.symlink;
    }
    if (kind === 'chardev' || kind === 'blockdev') item.device = decodeDevice(entry.size);
    if (entry.xattrs !== undefined && entry.xattrs.size > 0) {
      const kept = new Map<string, Buffer>();
      for (const [name, value] of entry.xattrs) {
        // squashfs has no ACLs (the kernel's squashfs reads user, trusted and security only):
        // an ACL is left out and reported, anything else in system.* refused.
        if (/^system\.posix_acl_(access|default)$/.test(name)) droppedAcls.push(`${path} ${name}`);
        else if (!/^(user|trusted|security)\.[^\0]+$/.test(name))
          throw corrupt(path, `extended attribute ${JSON.stringify(name)} cannot go in an image`);
        else kept.set(name, value);
      }
      if (kept.size > 0) item.xattrs = kept;
    }
    entries.push(item);
  }
  // Every member of a group of two or more names the group's first path, the first one too.
  const firstOf = new Map<string, number>();
  for (const members of groups.values())
    if (members.length > 1) for (const member of members) firstOf.set(member, members.length);
  for (const item of entries) {
    const size = firstOf.get(item.path);
    if (size === undefined) continue;
    item.nlink = size;
    if (item.linkedTo === undefined) item.linkedTo = item.path;
  }
  // A group of one is no hard link.
  for (const item of entries)
    if (item.linkedTo !== undefined && !firstOf.has(item.path)) delete item.linkedTo;
  return { entries, files, bytes, droppedAcls };
}
