import { accessSync, constants, lstatSync, readlinkSync, type BigIntStats } from 'node:fs';
import { resolve } from 'node:path';
import { UcvmError } from '../../errors.js';
import {
  defaultLister,
  errorCode,
  isFaithfulUtf8,
  nodeOf,
  type DirectoryLister,
} from './directory-listing.js';
import { isDirectory, isRegular, isSymlink, walkTree, type TreeNode } from './tree.js';
import {
  attachEntryXattrs,
  attachXattrs,
  getfattrTreeXattrs,
  nativeXattrReader,
  type EntryXattrReader,
} from './xattrs.js';

export interface ScanOptions {
  /** Read extended attributes. */
  xattrs: boolean;
  /**
   * How: each entry's as the scan finds it, by this reader (default: the native addon's, where
   * it is built), or, given null or without the addon, all at once by getfattr in a process of
   * its own.
   */
  xattrReader?: EntryXattrReader | null;
  /**
   * Told of each readable regular file as it is found, before the scan is done (and before the
   * tree is known to be publishable), so that its content can be stored meanwhile.
   */
  onFile?(node: TreeNode): void;
  /** How directories are read (default: the native lister where it is built). */
  lister?: DirectoryLister;
}

/** The scan lets other work run (answers of content workers) after this long. */
const YIELD_MS = 4;

const MAX_PROBLEMS_SHOWN = 20;

function readable(source: string): boolean {
  try {
    accessSync(source, constants.R_OK);
    return true;
  } catch {
    return false;
  }
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
  const list = options.lister ?? defaultLister;
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

  const readXattrs = options.xattrs
    ? options.xattrReader === undefined
      ? nativeXattrReader
      : (options.xattrReader ?? undefined)
    : undefined;
  // Without a reader of its own, getfattr walks the tree in its own process while this one does.
  const xattrsRead =
    options.xattrs && readXattrs === undefined ? getfattrTreeXattrs(root) : undefined;
  xattrsRead?.catch(() => undefined);
  const tree = nodeOf(root, '', rootStats);
  const xattrsOf = (node: TreeNode): void => {
    let found: Map<string, Buffer> | undefined;
    try {
      found = readXattrs!(node.source);
    } catch (error) {
      problems.push(`${node.path || '/'}: cannot read extended attributes (${errorCode(error)})`);
      return;
    }
    if (found !== undefined) attachEntryXattrs(node, found, problems);
  };
  if (readXattrs !== undefined) xattrsOf(tree);
  const directories: TreeNode[] = [tree];
  let lastYield = performance.now();
  while (directories.length > 0) {
    if (options.onFile !== undefined && performance.now() - lastYield > YIELD_MS) {
      await new Promise(setImmediate);
      lastYield = performance.now();
    }
    const directory = directories.pop()!;
    const { path } = directory;
    let listed: TreeNode[];
    try {
      listed = list(directory, problems, readXattrs === undefined ? undefined : xattrsOf);
    } catch (error) {
      problems.push(`${path || '/'}: directory is not readable (${errorCode(error)})`);
      continue;
    }
    const children: TreeNode[] = [];
    for (const child of listed) {
      if (child.path === '/.cvmfs') {
        problems.push("/.cvmfs: reserved for the client's virtual snapshot directory");
        continue;
      }
      const childSource = child.source;
      if (isSymlink(child)) {
        const target = readlinkSync(childSource, { encoding: 'buffer' });
        if (!isFaithfulUtf8(target))
          problems.push(`${child.path}: symlink target is not valid UTF-8`);
        child.symlink = target.toString('utf8');
      } else if (isRegular(child)) {
        if (checkReadable && !readable(childSource))
          problems.push(`${child.path}: file is not readable`);
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
