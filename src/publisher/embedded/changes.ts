import { parentPath } from '../../cvmfs/catalog/path-hash.js';
import type { EmbeddedContext } from './context.js';
import { stampOf, type StateCache } from './state-cache.js';
import { isDirectory, isRegular, walkTree, type TreeNode } from './tree.js';

/**
 * What the stamps were taken of: the tree, and the settings that shape rows beyond the stamps
 * (extended attributes read or not, hash, compression, chunking).
 */
export function publishedSource(context: EmbeddedContext, treeRoot: string): string {
  const { xattrs, algorithm, compression, chunking } = context;
  return JSON.stringify({ tree: treeRoot, xattrs, algorithm, compression, chunking });
}

/**
 * The nodes whose rows may have changed since the stamps were taken (changed regular files are
 * `changedFiles`; a synthetic catalog marker counts when its directory changed), and the
 * repository paths of entries gone since. Remembers the new stamps of other entries for the
 * next publish.
 */
export function entryChanges(
  tree: TreeNode,
  treeRoot: string,
  changedFiles: ReadonlySet<TreeNode>,
  cache: StateCache,
): { changedNodes: Set<TreeNode>; removed: string[] } {
  const changedNodes = new Set<TreeNode>();
  const changedDirectories = new Set<string>();
  const present: string[] = [];
  for (const node of walkTree(tree)) {
    // A catalog marker the publisher adds takes its directory's attributes.
    if (node.source === '') {
      if (changedDirectories.has(parentPath(node.path))) changedNodes.add(node);
      continue;
    }
    present.push(node.source);
    if (isRegular(node)) {
      if (changedFiles.has(node)) changedNodes.add(node);
      continue;
    }
    const stamp = stampOf(node);
    if (!cache.sameStamp(node.source, stamp)) {
      changedNodes.add(node);
      if (isDirectory(node)) changedDirectories.add(node.path);
      cache.rememberEntry(node.source, stamp, node);
    }
  }
  const removed = cache.removedEntries(present).map((source) => source.slice(treeRoot.length));
  return { changedNodes, removed };
}
