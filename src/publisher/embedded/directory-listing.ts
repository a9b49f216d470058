import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { isAscii } from 'node:buffer';
import { constants } from 'node:os';
import { nativeAddon, type NativeAddon } from '../../native/addon.js';
import type { TreeNode } from './tree.js';

/**
 * Lists one directory of the tree: its entries in the byte order of their names, each as a node
 * with what lstat tells of it (no children yet). An entry that cannot be published as it is (a
 * name that is not UTF-8 or holds a line break, a failed lstat) is a problem, added to
 * `problems` and left out. Given `xattrsOf`, the lister calls it for each entry that may have
 * extended attributes: every one, unless it knows which have none.
 * Throws if the directory itself cannot be read.
 */
export type DirectoryLister = (
  directory: TreeNode,
  problems: string[],
  xattrsOf?: (node: TreeNode) => void,
) => TreeNode[];

const NS_PER_S = 1_000_000_000n;

export function isFaithfulUtf8(bytes: Buffer): boolean {
  return isAscii(bytes) || Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

const NOT_ASCII = /[\u0080-\uffff]/;
const LINE_BREAK = /[\n\r]/;

function lineBreakIn(path: string, name: string): string {
  return `${path}/${JSON.stringify(name)}: name contains a line break`;
}

/**
 * The names in a directory in byte order, as they are stored; a name that is not valid UTF-8 is
 * a problem and left out. ASCII names (nearly all) are read as strings, whose order is then the
 * byte order; a directory with any other name is read again as bytes.
 */
function namesIn(source: string, path: string, problems: string[]): string[] {
  const names = readdirSync(source);
  if (!names.some((name) => NOT_ASCII.test(name))) return names.sort();
  const raw = readdirSync(source, { encoding: 'buffer' }).sort((a, b) => Buffer.compare(a, b));
  const valid: string[] = [];
  for (const bytes of raw) {
    if (isFaithfulUtf8(bytes)) valid.push(bytes.toString('utf8'));
    else problems.push(`${path}/${bytes.toString('latin1')}: name is not valid UTF-8`);
  }
  return valid;
}

/** A node of what lstat (with nanoseconds, as BigInts) tells of an entry. */
export function nodeOf(source: string, path: string, stats: BigIntStats): TreeNode {
  const mtimeNs = stats.mtimeNs;
  const seconds = mtimeNs >= 0n ? mtimeNs / NS_PER_S : -((-mtimeNs + NS_PER_S - 1n) / NS_PER_S);
  return {
    path,
    source,
    mode: Number(stats.mode),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    size: Number(stats.size),
    mtime: Number(seconds),
    mtimeNs: Number(mtimeNs - seconds * NS_PER_S),
    ctimeNs: stats.ctimeNs,
    dev: stats.dev,
    ino: stats.ino,
    nlink: Number(stats.nlink),
    rdev: Number(stats.rdev),
    stamp: undefined,
    // Filled in later; declared now, so that every node has one shape (see Records.node).
    symlink: undefined,
    xattrs: undefined,
    children: undefined,
    content: undefined,
  };
}

/** `source` is absolute and normalized, so this is path.join without its cost. */
function childPrefix(source: string): string {
  return source === '/' ? '' : source;
}

/** Lists through node:fs: one readdir, then one lstat per entry. */
export const fsLister: DirectoryLister = (directory, problems, xattrsOf) => {
  const { source, path } = directory;
  const prefix = childPrefix(source);
  const children: TreeNode[] = [];
  for (const name of namesIn(source, path, problems)) {
    if (LINE_BREAK.test(name)) {
      problems.push(lineBreakIn(path, name));
      continue;
    }
    const childSource = `${prefix}/${name}`;
    const childPath = `${path}/${name}`;
    let stats: BigIntStats;
    try {
      stats = lstatSync(childSource, { bigint: true });
    } catch (error) {
      problems.push(`${childPath}: cannot stat (${errorCode(error)})`);
      continue;
    }
    const child = nodeOf(childSource, childPath, stats);
    xattrsOf?.(child);
    children.push(child);
  }
  return children;
};

// The record layout of native/list-directory.c: FIELDS words of 8 bytes, then the name padded to 8.
const FIELD = {
  errno: 0,
  nameLength: 1,
  flags: 2,
  mode: 3,
  uid: 4,
  gid: 5,
  nlink: 6,
  rdev: 7,
  size: 8,
  mtimeSec: 9,
  mtimeNsec: 10,
  ctimeNs: 11,
  ctimeSec: 12,
  ctimeNsec: 13,
  ino: 14,
  dev: 15,
} as const;
const FIELDS = 16;
const FLAG_NOT_ASCII = 1;
const FLAG_CTIME_WIDE = 2;
const FLAG_LINE_BREAK = 4;
/** The addon made the entry's source, path and stamp (strings 3i .. 3i+2 of its listing). */
const FLAG_STRINGS = 8;
/** The entry may have extended attributes (the others have none). */
const FLAG_XATTRS = 16;
const TWO_TO_32 = 2 ** 32;

const errnoNames = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** Reads the records of one listing (see native/list-directory.c). */
class Records {
  private readonly low: Uint32Array;
  private readonly high: Int32Array;
  private readonly signed: BigInt64Array;
  private readonly unsigned: BigUint64Array;
  /** Records and names, in 8-byte words. */
  readonly words: number;

  constructor(readonly buffer: Buffer) {
    const { byteOffset, byteLength } = buffer;
    this.words = byteLength / 8;
    this.low = new Uint32Array(buffer.buffer, byteOffset, 2 * this.words);
    this.high = new Int32Array(buffer.buffer, byteOffset, 2 * this.words);
    this.signed = new BigInt64Array(buffer.buffer, byteOffset, this.words);
    this.unsigned = new BigUint64Array(buffer.buffer, byteOffset, this.words);
  }

  /** A field below 2^32 (flags, lengths, errno). */
  small(word: number): number {
    return this.low[2 * word]!;
  }

  /** A field JavaScript holds exactly (below 2^53). */
  number(word: number): number {
    return this.low[2 * word]! + this.high[2 * word + 1]! * TWO_TO_32;
  }

  bigint(word: number): bigint {
    return this.signed[word]!;
  }

  unsignedBigint(word: number): bigint {
    return this.unsigned[word]!;
  }

  /** The node of the record at `at`. */
  node(at: number, source: string, path: string, stamp: string | undefined): TreeNode {
    const flags = this.small(at + FIELD.flags);
    return {
      path,
      source,
      mode: this.number(at + FIELD.mode),
      uid: this.number(at + FIELD.uid),
      gid: this.number(at + FIELD.gid),
      size: this.number(at + FIELD.size),
      mtime: this.number(at + FIELD.mtimeSec),
      mtimeNs: this.number(at + FIELD.mtimeNsec),
      ctimeNs:
        (flags & FLAG_CTIME_WIDE) === 0
          ? this.bigint(at + FIELD.ctimeNs)
          : this.bigint(at + FIELD.ctimeSec) * NS_PER_S + this.bigint(at + FIELD.ctimeNsec),
      dev: this.unsignedBigint(at + FIELD.dev),
      ino: this.unsignedBigint(at + FIELD.ino),
      nlink: this.number(at + FIELD.nlink),
      rdev: this.number(at + FIELD.rdev),
      stamp,
      // Filled in later. Declared now, every node has one shape from the start, and setting
      // one of them neither changes the shape nor allocates room for another property.
      symlink: undefined,
      xattrs: undefined,
      children: undefined,
      content: undefined,
    };
  }
}

/**
 * Lists through the native addon (native/list-directory.c): one call per directory, which reads
 * the names and lstats every entry, instead of a call per entry. For plain entries (an ASCII name
 * without a line break: nearly all) it also makes the source, path and stamp strings. Only whole
 * numbers below 2^53 are read as numbers (sizes, times in seconds, modes); inode, device and
 * ctime stay BigInts.
 */
function nativeLister(addon: NativeAddon): DirectoryLister {
  return (directory, problems, xattrsOf) => {
    const { source, path } = directory;
    const [listed, strings] = addon.listDirectory(source, path, xattrsOf !== undefined);
    // A Buffer the addon made has memory of its own, aligned for 8-byte words; else a copy is.
    const records = new Records(
      listed.byteOffset % 8 === 0 ? listed : Buffer.from(new Uint8Array(listed)),
    );
    const { buffer } = records;
    const prefix = childPrefix(source);
    const children: TreeNode[] = [];
    for (let at = 0, entry = 0; at < records.words; entry++) {
      const record = at;
      const nameLength = records.small(record + FIELD.nameLength);
      const flags = records.small(record + FIELD.flags);
      at += FIELDS + Math.ceil(nameLength / 8);
      if ((flags & FLAG_STRINGS) !== 0) {
        const made = 3 * entry;
        const child = records.node(record, strings[made]!, strings[made + 1]!, strings[made + 2]);
        if ((flags & FLAG_XATTRS) !== 0) xattrsOf?.(child);
        children.push(child);
        continue;
      }
      const nameStart = (record + FIELDS) * 8;
      const nameEnd = nameStart + nameLength;
      let name: string;
      if ((flags & FLAG_NOT_ASCII) === 0) name = buffer.toString('latin1', nameStart, nameEnd);
      else {
        const bytes = buffer.subarray(nameStart, nameEnd);
        if (!isFaithfulUtf8(bytes)) {
          problems.push(`${path}/${bytes.toString('latin1')}: name is not valid UTF-8`);
          continue;
        }
        name = bytes.toString('utf8');
      }
      if ((flags & FLAG_LINE_BREAK) !== 0) {
        problems.push(lineBreakIn(path, name));
        continue;
      }
      const childPath = `${path}/${name}`;
      const failed = records.small(record + FIELD.errno);
      if (failed !== 0) {
        problems.push(`${childPath}: cannot stat (${errnoNames.get(failed) ?? `errno ${failed}`})`);
        continue;
      }
      const child = records.node(record, `${prefix}/${name}`, childPath, undefined);
      if ((flags & FLAG_XATTRS) !== 0) xattrsOf?.(child);
      children.push(child);
    }
    return children;
  };
}

/** The native lister where it is built and loads, else undefined (see fsLister). */
export const nativeDirectoryLister: DirectoryLister | undefined =
  nativeAddon === undefined ? undefined : nativeLister(nativeAddon);

/** The lister a scan uses unless told otherwise. */
export const defaultLister: DirectoryLister = nativeDirectoryLister ?? fsLister;
