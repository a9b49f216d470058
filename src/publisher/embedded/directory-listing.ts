import { existsSync, lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { isAscii } from 'node:buffer';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { TreeNode } from './tree.js';

/**
 * Lists one directory of the tree: its entries in the byte order of their names, each as a node
 * with what lstat tells of it (no children yet). An entry that cannot be published as it is (a
 * name that is not UTF-8 or holds a line break, a failed lstat) is a problem, added to
 * `problems` and left out.
 * Throws if the directory itself cannot be read.
 */
export type DirectoryLister = (directory: TreeNode, problems: string[]) => TreeNode[];

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
    // Filled in later; declared now, so that every node has one shape (see nativeLister).
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
export const fsLister: DirectoryLister = (directory, problems) => {
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
    children.push(nodeOf(childSource, childPath, stats));
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
const TWO_TO_32 = 2 ** 32;

const errnoNames = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

interface NativeAddon {
  listDirectory(path: string): Buffer;
}

/**
 * Lists through the native addon (native/list-directory.c): one call per directory, which reads
 * the names and lstats every entry, instead of a call per entry. Only whole numbers below 2^53
 * are read as numbers (sizes, times in seconds, modes); inode, device and ctime stay BigInts.
 */
function nativeLister(addon: NativeAddon): DirectoryLister {
  return (directory, problems) => {
    const { source, path } = directory;
    const prefix = childPrefix(source);
    const listed = addon.listDirectory(source);
    // A Buffer the addon made has memory of its own, aligned for 8-byte words; else a copy is.
    const buffer = listed.byteOffset % 8 === 0 ? listed : Buffer.from(new Uint8Array(listed));
    const words = buffer.byteLength / 4;
    const low = new Uint32Array(buffer.buffer, buffer.byteOffset, words);
    const high = new Int32Array(buffer.buffer, buffer.byteOffset, words);
    const signed = new BigInt64Array(buffer.buffer, buffer.byteOffset, words / 2);
    const unsigned = new BigUint64Array(buffer.buffer, buffer.byteOffset, words / 2);
    const number = (word: number): number => low[2 * word]! + high[2 * word + 1]! * TWO_TO_32;
    const children: TreeNode[] = [];
    for (let at = 0; at < words / 2;) {
      const nameLength = low[2 * (at + FIELD.nameLength)]!;
      const flags = low[2 * (at + FIELD.flags)]!;
      const nameStart = (at + FIELDS) * 8;
      const nameEnd = nameStart + nameLength;
      const record = at;
      at += FIELDS + Math.ceil(nameLength / 8);
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
      const childSource = `${prefix}/${name}`;
      const childPath = `${path}/${name}`;
      const failed = low[2 * (record + FIELD.errno)]!;
      if (failed !== 0) {
        problems.push(`${childPath}: cannot stat (${errnoNames.get(failed) ?? `errno ${failed}`})`);
        continue;
      }
      children.push({
        path: childPath,
        source: childSource,
        mode: number(record + FIELD.mode),
        uid: number(record + FIELD.uid),
        gid: number(record + FIELD.gid),
        size: number(record + FIELD.size),
        mtime: number(record + FIELD.mtimeSec),
        mtimeNs: number(record + FIELD.mtimeNsec),
        ctimeNs:
          (flags & FLAG_CTIME_WIDE) === 0
            ? signed[record + FIELD.ctimeNs]!
            : signed[record + FIELD.ctimeSec]! * NS_PER_S + signed[record + FIELD.ctimeNsec]!,
        dev: unsigned[record + FIELD.dev]!,
        ino: unsigned[record + FIELD.ino]!,
        nlink: number(record + FIELD.nlink),
        rdev: number(record + FIELD.rdev),
        // Filled in later. Declared now, every node has one shape from the start, and setting
        // one of them neither changes the shape nor allocates room for another property.
        symlink: undefined,
        xattrs: undefined,
        children: undefined,
        content: undefined,
      });
    }
    return children;
  };
}

/**
 * The built addon: dist/native/ beside dist/src/ when this runs from the build, or the
 * project's dist/native/ when it runs from its TypeScript source (tests).
 */
function addonPath(): string | undefined {
  const candidates = [
    new URL('../../../native/list-directory.node', import.meta.url),
    new URL('../../../dist/native/list-directory.node', import.meta.url),
  ].map((url) => fileURLToPath(url));
  return candidates.find((candidate) => existsSync(candidate));
}

function loadNativeLister(): DirectoryLister | undefined {
  const path = addonPath();
  if (path === undefined) return undefined;
  try {
    return nativeLister(createRequire(import.meta.url)(path) as NativeAddon);
  } catch {
    // Built for another machine or C library: the node:fs lister does the same work.
    return undefined;
  }
}

/** The native lister where it is built and loads, else undefined (see fsLister). */
export const nativeDirectoryLister: DirectoryLister | undefined = loadNativeLister();

/** The lister a scan uses unless told otherwise. */
export const defaultLister: DirectoryLister = nativeDirectoryLister ?? fsLister;
