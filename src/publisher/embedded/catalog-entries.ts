import { countRows, type CounterSet } from '../../cvmfs/catalog/counters.js';
import type { CatalogEntry } from '../../cvmfs/catalog/entry.js';
import { S_IFBLK, S_IFCHR, S_IFMT } from '../../cvmfs/catalog/entry.js';
import { hashFromHex } from '../../cvmfs/hash.js';
import { isDirectory, isRegular, type TreeNode } from './tree.js';

/** The nodes of one catalog: its root, everything below it, and child mount points (as transition rows). */
export function catalogNodes(mount: TreeNode, mountpoints: ReadonlySet<string>): TreeNode[] {
  const nodes: TreeNode[] = [mount];
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    if (node.children !== undefined && (node === mount || !mountpoints.has(node.path)))
      nodes.push(...node.children);
  }
  return nodes;
}

export interface EntryContext {
  mountpoints: ReadonlySet<string>;
}

/**
 * The catalog rows of `nodes` (all of one catalog, its mount first), or of those `only`
 * accepts: hard link groups are numbered over the whole catalog either way.
 */
export function toEntries(
  nodes: readonly TreeNode[],
  context: EntryContext,
  only?: (node: TreeNode) => boolean,
): CatalogEntry[] {
  const mount = nodes[0]!;
  const inodeMembers = new Map<string, number>();
  for (const node of nodes) {
    if (isRegular(node) && node.nlink > 1) {
      const key = `${node.dev}:${node.ino}`;
      inodeMembers.set(key, (inodeMembers.get(key) ?? 0) + 1);
    }
  }
  const groups = new Map<string, number>();
  const entries: CatalogEntry[] = [];
  for (const node of nodes) {
    let group = 0;
    let members = 1;
    if (isRegular(node) && node.nlink > 1) {
      const key = `${node.dev}:${node.ino}`;
      members = inodeMembers.get(key) ?? 1;
      if (members > 1) {
        group = groups.get(key) ?? groups.size + 1;
        groups.set(key, group);
      }
    }
    if (only === undefined || only(node))
      entries.push(toEntry(node, mount, context, group, members));
  }
  return entries;
}

function toEntry(
  node: TreeNode,
  mount: TreeNode,
  context: EntryContext,
  group: number,
  members: number,
): CatalogEntry {
  const entry: CatalogEntry = {
    path: node.path,
    mode: node.mode,
    size: node.size,
    mtime: node.mtime,
    mtimeNs: node.mtimeNs === 0 ? undefined : node.mtimeNs,
    uid: node.uid,
    gid: node.gid,
    hardlinkGroup: 0,
    linkcount: 1,
    compression: 'zlib',
    symlink: '',
    xattrs: node.xattrs !== undefined && node.xattrs.size > 0 ? node.xattrs : undefined,
  };
  if (isDirectory(node)) {
    entry.linkcount = 2 + (node.children ?? []).filter(isDirectory).length;
    if (node === mount && node.path !== '') entry.nestedRoot = true;
    if (node !== mount && context.mountpoints.has(node.path)) entry.nestedMountpoint = true;
  } else if (isRegular(node)) {
    const content = node.content!;
    entry.compression = content.compression;
    if (content.chunks !== undefined) {
      entry.chunks = content.chunks.map((chunk) => ({
        offset: chunk.offset,
        size: chunk.size,
        hash: hashFromHex(chunk.hash),
      }));
    } else {
      entry.hash = hashFromHex(content.hash);
    }
    if (members > 1) {
      entry.hardlinkGroup = group;
      entry.linkcount = members;
    }
  } else if (node.symlink !== undefined) {
    entry.symlink = node.symlink;
    entry.size = Buffer.byteLength(node.symlink);
  } else {
    const type = node.mode & S_IFMT;
    entry.size = type === S_IFCHR || type === S_IFBLK ? node.rdev : 0;
  }
  return entry;
}

/** `selfCounters` of the rows `toEntries` makes of `nodes`, without making them. */
export function countNodes(nodes: readonly TreeNode[], nestedCount: number): CounterSet {
  return countRows(
    nodes,
    (node) => ({
      mode: node.mode,
      size: node.size,
      hasXattrs: node.xattrs !== undefined && node.xattrs.size > 0,
      chunks: (isRegular(node) ? node.content?.chunks?.length : undefined) ?? 0,
    }),
    nestedCount,
  );
}
