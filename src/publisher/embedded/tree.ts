import type { Xattrs } from '../../cvmfs/catalog/xattr.js';
import type { StoredContent } from './content-pipeline.js';

/** What the publisher needs to know of one file of the source tree. */
export interface TreeNode {
  /** Repository path (`""` for the tree's root). */
  path: string;
  /** Absolute path in the source tree. */
  source: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  mtimeNs: number;
  ctimeNs: bigint;
  dev: bigint;
  ino: bigint;
  nlink: number;
  rdev: number;
  /** The stamp, where the native lister made it (see stampOf). */
  stamp?: string;
  symlink?: string;
  xattrs?: Xattrs;
  /** Directories only: entries sorted by name (byte order). */
  children?: TreeNode[];
  /** Regular files only: where the content is stored, once the content feed knows it. */
  content?: StoredContent;
}

export function isDirectory(node: TreeNode): boolean {
  return (node.mode & 0o170000) === 0o040000;
}

export function isRegular(node: TreeNode): boolean {
  return (node.mode & 0o170000) === 0o100000;
}

export function isSymlink(node: TreeNode): boolean {
  return (node.mode & 0o170000) === 0o120000;
}

/** Depth-first, parents before children, in name order. */
export function* walkTree(node: TreeNode): Generator<TreeNode> {
  const stack: TreeNode[] = [node];
  while (stack.length > 0) {
    const current = stack.pop()!;
    yield current;
    const children = current.children;
    if (children !== undefined)
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
