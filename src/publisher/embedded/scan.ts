import {
  accessSync,
  constants,
  lstatSync,
  readdirSync,
  readlinkSync,
  type BigIntStats,
} from 'node:fs';
import { isAscii } from 'node:buffer';
import { resolve } from 'node:path';
import { UcvmError } from '../../errors.js';
import { isDirectory, isRegular, walkTree, type TreeNode } from './tree.js';
import { attachXattrs, readTreeXattrs } from './xattrs.js';

export interface ScanOptions {
  /** Read extended attributes (needs `getfattr`). */
  xattrs: boolean;
  /**
   * Told of each readable regular file as it is found, before the scan is done (and before the
   * tree is known to be publishable), so that its content can be stored meanwhile.
   */
  onFile?(node: TreeNode): void;
}

/** The scan lets other work run (answers of content workers) after this long. */
const YIELD_MS = 4;

const MAX_PROBLEMS_SHOWN = 20;
const NS_PER_S = 1_000_000_000n;

function isFaithfulUtf8(bytes: Buffer): boolean {
  return isAscii(bytes) || Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

const NOT_ASCII = /[\u0080-\uffff]/;

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

function readable(source: string): boolean {
  try {
    accessSync(source, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

function nodeOf(source: string, path: string, stats: BigIntStats): TreeNode {
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
  };
}

/**
 * Reads the source tree into memory and checks that the format can hold every entry; every
 * problem is collected, and the tree is returned only if there is none. Synchronous system
 * calls on purpose: one tight loop of them is several times cheaper than as many promises. The
 * loop yields every few milliseconds, so that files handed on (`onFile`) are worked on meanwhile.
 */
export async function scanTree(treeDir: string, options: ScanOptions): Promise<TreeNode> {
  const root = resolve(treeDir);
  const problems: string[] = [];
  // As root every file is readable; checking each one would only cost time.
  const checkReadable = process.getuid?.() !== 0;
  let rootStats: BigIntStats;
  try {
    rootStats = lstatSync(root, { bigint: true });
  } catch (error) {
    throw new UcvmError('TREE_INVALID', `cannot read the tree ${root}: ${errorCode(error)}`, {
      where: { path: root },
    });
  }
  if (!rootStats.isDirectory())
    throw new UcvmError('TREE_INVALID', `the tree ${root} is not a directory`, {
      where: { path: root },
    });

  // getfattr walks the tree in its own process while this one does.
  const xattrsRead = options.xattrs ? readTreeXattrs(root) : undefined;
  xattrsRead?.catch(() => undefined);
  const tree = nodeOf(root, '', rootStats);
  const directories: TreeNode[] = [tree];
  let lastYield = performance.now();
  while (directories.length > 0) {
    if (options.onFile !== undefined && performance.now() - lastYield > YIELD_MS) {
      await new Promise(setImmediate);
      lastYield = performance.now();
    }
    const directory = directories.pop()!;
    const { source, path } = directory;
    let names: string[];
    try {
      names = namesIn(source, path, problems);
    } catch (error) {
      problems.push(`${path || '/'}: directory is not readable (${errorCode(error)})`);
      continue;
    }
    const accepted: string[] = [];
    for (const name of names) {
      if (/[\n\r]/.test(name))
        problems.push(`${path}/${JSON.stringify(name)}: name contains a line break`);
      else if (path === '' && name === '.cvmfs')
        problems.push("/.cvmfs: reserved for the client's virtual snapshot directory");
      else accepted.push(name);
    }
    const children: TreeNode[] = [];
    // `source` is absolute and normalized, so this is path.join without its cost.
    const prefix = source === '/' ? '' : source;
    for (const name of accepted) {
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
      if (stats.isSymbolicLink()) {
        const target = readlinkSync(childSource, { encoding: 'buffer' });
        if (!isFaithfulUtf8(target))
          problems.push(`${childPath}: symlink target is not valid UTF-8`);
        child.symlink = target.toString('utf8');
      } else if (isRegular(child)) {
        if (checkReadable && !readable(childSource))
          problems.push(`${childPath}: file is not readable`);
        else options.onFile?.(child);
      } else if (isDirectory(child)) {
        directories.push(child);
      }
      children.push(child);
    }
    directory.children = children;
  }

  if (xattrsRead !== undefined) attachXattrs(walkTree(tree), await xattrsRead, problems);
  if (problems.length > 0) throw treeInvalid(root, problems);
  return tree;
}

/** The error for entries of a tree that cannot be published, naming the first of them. */
export function treeInvalid(root: string, problems: readonly string[]): UcvmError {
  const shown = problems.slice(0, MAX_PROBLEMS_SHOWN);
  const more = problems.length - shown.length;
  return new UcvmError(
    'TREE_INVALID',
    `the tree ${root} has ${problems.length} entr${problems.length === 1 ? 'y' : 'ies'} that cannot be published`,
    {
      details: shown.join('\n') + (more > 0 ? `\n… and ${more} more` : ''),
      where: { path: root },
    },
  );
}
