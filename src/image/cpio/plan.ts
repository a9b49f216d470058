import type { CpioEntry, CpioOptions, HardLinkEntry } from './entries.js';
import type { NewcFields } from './header.js';
import {
  checkDevice,
  checkOwner,
  checkPermissions,
  checkSize,
  checkSourceDateEpoch,
} from './limits.js';
import { archivePath, compareArchivePaths, parentPath, rootPath } from './paths.js';
import { refuseEntry } from './refuse.js';

/** What follows a header: nothing, given bytes, or a file of the build machine. */
export type RecordBody =
  | { kind: 'none' }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'host'; source: string; size: number };

/** One entry as it is written: its name, its header fields and its data. */
export interface ArchiveRecord {
  name: string;
  fields: NewcFields;
  body: RecordBody;
}

type Inode = Exclude<CpioEntry, HardLinkEntry>;

const fileType = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  'char-device': 0o020000,
  'block-device': 0o060000,
} as const;

const defaultPermissions = {
  file: 0o644,
  directory: 0o755,
  'char-device': 0o600,
  'block-device': 0o600,
} as const;

/** Entries by archive name: duplicates refused, the root and missing parents added. */
function byArchivePath(entries: readonly CpioEntry[]): Map<string, CpioEntry> {
  const named = new Map<string, CpioEntry>();
  for (const entry of entries) {
    const name = archivePath(entry.path);
    if (named.has(name)) {
      throw refuseEntry(entry.path, 'the archive already has an entry of this name');
    }
    named.set(name, entry);
  }
  const root = named.get(rootPath);
  if (root === undefined) named.set(rootPath, { type: 'directory', path: rootPath });
  else if (root.type !== 'directory') throw refuseEntry(root.path, 'the root must be a directory');

  for (const name of [...named.keys()]) {
    for (let parent = parentPath(name); parent !== undefined; parent = parentPath(parent)) {
      const existing = named.get(parent);
      if (existing === undefined) named.set(parent, { type: 'directory', path: parent });
      else if (existing.type === 'directory') break;
      else throw refuseEntry(name, `its parent ${JSON.stringify(parent)} is a ${existing.type}`);
    }
  }
  return named;
}

/** The file each name's inode belongs to: itself, or a hard link's target. */
function inodeOwners(named: ReadonlyMap<string, CpioEntry>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [name, entry] of named) {
    if (entry.type !== 'hardlink') {
      owners.set(name, name);
      continue;
    }
    const target = archivePath(entry.target);
    if (named.get(target)?.type !== 'file') {
      throw refuseEntry(
        entry.path,
        `the hard link's target ${JSON.stringify(entry.target)} is not a regular file of the archive`,
      );
    }
    owners.set(name, target);
  }
  return owners;
}

function bodyOf(inode: Inode, hostSizes: ReadonlyMap<string, number>): RecordBody {
  if (inode.type === 'symlink') {
    if (inode.target === '' || inode.target.includes('\0')) {
      throw refuseEntry(inode.path, 'a symlink target must be non-empty and without NUL');
    }
    return { kind: 'bytes', bytes: Buffer.from(inode.target, 'utf8') };
  }
  if (inode.type !== 'file') return { kind: 'none' };
  if ('content' in inode) {
    checkSize(inode.path, inode.content.length);
    return { kind: 'bytes', bytes: inode.content };
  }
  const size = hostSizes.get(inode.source);
  if (size === undefined) throw refuseEntry(inode.path, `${inode.source} was not measured`);
  return { kind: 'host', source: inode.source, size: checkSize(inode.path, size) };
}

function bodySize(body: RecordBody): number {
  if (body.kind === 'none') return 0;
  return body.kind === 'bytes' ? body.bytes.length : body.size;
}

function modeOf(inode: Inode): number {
  if (inode.type === 'symlink') return fileType.symlink | 0o777;
  const permissions = inode.mode ?? defaultPermissions[inode.type];
  return fileType[inode.type] | checkPermissions(inode.path, permissions);
}

/**
 * The records of an archive, in the order they are written. Pure: host files are named, not
 * read; `hostSizes` gives their sizes. Inode numbers count up from 1 in output order; the names
 * of a hard-linked file share one, and the last of them in output order carries the data, as
 * cpio and the kernel's gen_init_cpio write it.
 */
export function planArchive(
  entries: readonly CpioEntry[],
  options: CpioOptions,
  hostSizes: ReadonlyMap<string, number> = new Map(),
): ArchiveRecord[] {
  const mtime = checkSourceDateEpoch(options.sourceDateEpoch);
  const named = byArchivePath(entries);
  const owners = inodeOwners(named);
  const names = [...named.keys()].sort(compareArchivePaths);

  const linkCount = new Map<string, number>();
  const lastLink = new Map<string, string>();
  for (const name of names) {
    const owner = owners.get(name) ?? name;
    const isDirectory = named.get(name)?.type === 'directory';
    // A directory's links: its name, its own ".", and the ".." of each subdirectory.
    linkCount.set(owner, (linkCount.get(owner) ?? 0) + (isDirectory ? 2 : 1));
    const parent = parentPath(name);
    if (isDirectory && parent !== undefined) {
      linkCount.set(parent, (linkCount.get(parent) ?? 0) + 1);
    }
    lastLink.set(owner, name);
  }

  const inodeNumbers = new Map<string, number>();
  return names.map((name): ArchiveRecord => {
    const owner = owners.get(name) ?? name;
    const inode = named.get(owner) as Inode;
    let ino = inodeNumbers.get(owner);
    if (ino === undefined) {
      ino = inodeNumbers.size + 1;
      inodeNumbers.set(owner, ino);
    }
    const body: RecordBody =
      lastLink.get(owner) === name ? bodyOf(inode, hostSizes) : { kind: 'none' };
    const isDevice = inode.type === 'char-device' || inode.type === 'block-device';
    if (isDevice) checkDevice(inode.path, inode.major, inode.minor);
    return {
      name,
      body,
      fields: {
        ino,
        mode: modeOf(inode),
        uid: checkOwner(inode.path, 'uid', inode.uid ?? 0),
        gid: checkOwner(inode.path, 'gid', inode.gid ?? 0),
        nlink: linkCount.get(owner) ?? 1,
        mtime,
        fileSize: bodySize(body),
        devMajor: 0,
        devMinor: 0,
        rdevMajor: isDevice ? inode.major : 0,
        rdevMinor: isDevice ? inode.minor : 0,
      },
    };
  });
}
