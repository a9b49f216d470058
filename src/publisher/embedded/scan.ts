import { constants } from 'node:fs';
import { access, lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { xattrProblem } from '../../cvmfs/catalog/xattr.js';
import { UcvmError } from '../../errors.js';
import { isDirectory, isRegular, walkTree, type TreeNode } from './tree.js';
import { readTreeXattrs } from './xattrs.js';

export interface ScanOptions {
  /** Read extended attributes (needs `getfattr`). */
  xattrs: boolean;
}

const MAX_PROBLEMS_SHOWN = 20;
const NS_PER_S = 1_000_000_000n;

function isFaithfulUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/** Reads the source tree into memory and checks that the format can hold every entry. */
export async function scanTree(root: string, options: ScanOptions): Promise<TreeNode> {
  const problems: string[] = [];
  // Limits the system calls in flight, not the recursion: a parent waiting for its children
  // must not hold a slot, or a deep tree deadlocks.
  const limit = pLimit(32);
  const rootStat = await lstat(root, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
    throw new UcvmError(
      'TREE_INVALID',
      `cannot read the tree ${root}: ${error.code ?? error.message}`,
      { where: { path: root } },
    );
  });
  if (!rootStat.isDirectory())
    throw new UcvmError('TREE_INVALID', `the tree ${root} is not a directory`, {
      where: { path: root },
    });

  async function visit(source: string, path: string): Promise<TreeNode | undefined> {
    let stats;
    try {
      stats = await limit(() => lstat(source, { bigint: true }));
    } catch (error) {
      problems.push(`${path || '/'}: cannot stat (${(error as NodeJS.ErrnoException).code})`);
      return undefined;
    }
    const mtimeNs = stats.mtimeNs;
    const seconds = mtimeNs >= 0n ? mtimeNs / NS_PER_S : -((-mtimeNs + NS_PER_S - 1n) / NS_PER_S);
    const node: TreeNode = {
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
    if (stats.isSymbolicLink()) {
      const target = await limit(() => readlink(source, { encoding: 'buffer' }));
      if (!isFaithfulUtf8(target)) problems.push(`${path}: symlink target is not valid UTF-8`);
      node.symlink = target.toString('utf8');
    } else if (isRegular(node)) {
      await limit(() => access(source, constants.R_OK)).catch(() =>
        problems.push(`${path}: file is not readable`),
      );
    } else if (isDirectory(node)) {
      let names: Buffer[];
      try {
        names = await limit(() => readdir(source, { encoding: 'buffer' }));
      } catch (error) {
        problems.push(
          `${path || '/'}: directory is not readable (${(error as NodeJS.ErrnoException).code})`,
        );
        return node;
      }
      const accepted: string[] = [];
      for (const raw of names) {
        const name = raw.toString('utf8');
        if (!isFaithfulUtf8(raw))
          problems.push(`${path}/${raw.toString('latin1')}: name is not valid UTF-8`);
        else if (/[\n\r]/.test(name))
          problems.push(`${path}/${JSON.stringify(name)}: name contains a line break`);
        else if (path === '' && name === '.cvmfs')
          problems.push("/.cvmfs: reserved for the client's virtual snapshot directory");
        else accepted.push(name);
      }
      accepted.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const children = await Promise.all(
        accepted.map((name) => visit(join(source, name), `${path}/${name}`)),
      );
      node.children = children.filter((child): child is TreeNode => child !== undefined);
    }
    return node;
  }

  const tree = (await visit(root, ''))!;
  if (options.xattrs) {
    const xattrs = await readTreeXattrs(root);
    for (const node of walkTree(tree)) {
      const found = xattrs.get(node.source);
      if (found === undefined) continue;
      for (const [key, value] of found) {
        const problem = xattrProblem(key, value);
        if (problem !== undefined) problems.push(`${node.path || '/'}: ${problem}`);
      }
      if (found.size > 255) problems.push(`${node.path || '/'}: more than 255 extended attributes`);
      node.xattrs = found;
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_PROBLEMS_SHOWN);
    const more = problems.length - shown.length;
    throw new UcvmError(
      'TREE_INVALID',
      `the tree ${root} has ${problems.length} entr${problems.length === 1 ? 'y' : 'ies'} that cannot be published`,
      {
        details: shown.join('\n') + (more > 0 ? `\n… and ${more} more` : ''),
        where: { path: root },
      },
    );
  }
  return tree;
}
