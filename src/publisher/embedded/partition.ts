import { isDirectory, isRegular, nameOf, type TreeNode } from './tree.js';

export const CATALOG_MARKER = '.cvmfscatalog';
const MARKER_PATH_END = `/${CATALOG_MARKER}`;

export interface PartitionOptions {
  /** Split a catalog that holds more entries than this (the server's autocatalog maximum). */
  maxEntries: number;
  /** Never split off a directory with fewer entries than this. */
  minEntries: number;
}

export const DEFAULT_PARTITION: PartitionOptions = { maxEntries: 100_000, minEntries: 1_000 };

/**
 * Decides the catalog mount points of a tree: the root, every directory holding a
 * `.cvmfscatalog` marker, and, for catalogs that are still too large, the directories an
 * automatic split chooses. Deterministic, so an unchanged tree keeps its catalogs.
 */
export function partitionTree(root: TreeNode, options: PartitionOptions): Set<string> {
  const mountpoints = new Set<string>(['']);
  const parents = new Map<TreeNode, TreeNode>();
  const directories: TreeNode[] = [];
  const stack: TreeNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    directories.push(node);
    for (const child of node.children ?? []) {
      if (isDirectory(child)) {
        parents.set(child, node);
        stack.push(child);
      } else if (isRegular(child) && child.path.endsWith(MARKER_PATH_END))
        mountpoints.add(node.path);
    }
  }

  // Weight = entries a directory contributes to its catalog (a nested mount point counts once).
  const weight = new Map<TreeNode, number>();
  for (let i = directories.length - 1; i >= 0; i--) {
    const dir = directories[i]!;
    let total = 1;
    for (const child of dir.children ?? []) {
      if (!isDirectory(child)) total += 1;
      else total += mountpoints.has(child.path) ? 1 : weight.get(child)!;
    }
    weight.set(dir, total);
  }

  const catalogOf = (dir: TreeNode): TreeNode => {
    let current = dir;
    while (!mountpoints.has(current.path)) current = parents.get(current)!;
    return current;
  };
  const catalogWeight = (mount: TreeNode): number => weight.get(mount)!;

  const queue = directories.filter((dir) => mountpoints.has(dir.path));
  while (queue.length > 0) {
    const catalog = queue.shift()!;
    while (catalogWeight(catalog) > options.maxEntries) {
      const candidates = directories.filter(
        (dir) =>
          dir !== catalog &&
          !mountpoints.has(dir.path) &&
          weight.get(dir)! >= options.minEntries &&
          catalogOf(dir) === catalog,
      );
      if (candidates.length === 0) break;
      const fitting = candidates.filter((dir) => weight.get(dir)! <= options.maxEntries);
      const pool = fitting.length > 0 ? fitting : candidates;
      const pick = pool.reduce((best, dir) => {
        const better =
          fitting.length > 0
            ? weight.get(dir)! > weight.get(best)!
            : weight.get(dir)! < weight.get(best)!;
        return better || (weight.get(dir) === weight.get(best) && dir.path < best.path)
          ? dir
          : best;
      });
      const removed = weight.get(pick)! - 1;
      mountpoints.add(pick.path);
      for (let up = parents.get(pick); up !== undefined; up = parents.get(up)) {
        weight.set(up, weight.get(up)! - removed);
        if (up === catalog) break;
      }
      queue.push(pick);
    }
  }
  return mountpoints;
}

export const AUTO_CATALOG_MARKER = '.cvmfsautocatalog';

/**
 * Gives every automatically split catalog the markers the real server's balancer writes
 * (`.cvmfscatalog` and `.cvmfsautocatalog`, empty, 0600, owned like the directory), so that
 * `cvmfs_server check` accepts the layout and a later takeover by `cvmfs_server` keeps it.
 * The markers take the directory's mtime rather than the time of publishing, to stay
 * reproducible. Synthetic nodes have no source path. Returns the markers it added.
 */
export function addAutoCatalogMarkers(
  root: TreeNode,
  mountpoints: ReadonlySet<string>,
): TreeNode[] {
  const added: TreeNode[] = [];
  const stack: TreeNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const children = node.children ?? [];
    if (
      node.path !== '' &&
      mountpoints.has(node.path) &&
      !children.some((child) => isRegular(child) && nameOf(child.path) === CATALOG_MARKER)
    ) {
      for (const name of [CATALOG_MARKER, AUTO_CATALOG_MARKER]) {
        if (children.some((child) => nameOf(child.path) === name)) continue;
        const marker: TreeNode = {
          path: `${node.path}/${name}`,
          source: '',
          mode: 0o100600,
          uid: node.uid,
          gid: node.gid,
          size: 0,
          mtime: node.mtime,
          mtimeNs: 0,
          ctimeNs: 0n,
          dev: 0n,
          ino: BigInt(-(added.length + 1)),
          nlink: 1,
          rdev: 0,
        };
        children.push(marker);
        added.push(marker);
      }
      children.sort((a, b) =>
        Buffer.compare(Buffer.from(nameOf(a.path)), Buffer.from(nameOf(b.path))),
      );
      node.children = children;
    }
    for (const child of children) if (isDirectory(child)) stack.push(child);
  }
  return added;
}
