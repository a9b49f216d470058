import { selfCounters, subtreeCounters, type Counters } from '../../cvmfs/catalog/counters.js';
import { catalogTreeDigest } from '../../cvmfs/catalog/digest.js';
import type { NestedCatalogRef } from '../../cvmfs/catalog/entry.js';
import { parentPath } from '../../cvmfs/catalog/path-hash.js';
import { patchCatalog, writeCatalog, type CatalogProperties } from '../../cvmfs/catalog/sqlite.js';
import type { HashAlgorithm } from '../../cvmfs/hash.js';
import type { CatalogRecord } from '../../reader/catalog-tree.js';
import { catalogNodes, countNodes, toEntries } from './catalog-entries.js';
import { isDirectory, isRegular, type TreeNode } from './tree.js';

/**
 * What the publisher knows of the changes since the previous revision, when its stamps
 * describe that revision exactly (see `StateCache.lastPublished`).
 */
export interface KnownChanges {
  /** Nodes whose row may differ from the previous revision's: new, changed, or synthetic. */
  changed: ReadonlySet<TreeNode>;
  /** Repository paths of the previous revision's entries that are gone. */
  removed: readonly string[];
  /** The uncompressed file of a previous catalog, or undefined if it cannot be read. */
  base(record: CatalogRecord): Promise<Buffer | undefined>;
}

export interface CatalogBuildInput {
  tree: TreeNode;
  mountpoints: ReadonlySet<string>;
  /** The previous revision's catalogs, by mount point. */
  previous: ReadonlyMap<string, CatalogRecord>;
  revision: number;
  now: number;
  ttl: number;
  algorithm: HashAlgorithm;
  /** Compresses and stores a catalog file; returns its hash. */
  store(bytes: Buffer): Promise<string>;
  /**
   * Given, catalogs are patched (changed rows only) and reused by what changed; not given, every
   * catalog is compared with its previous version by tree digest (slower: every row is made).
   */
  changes?: KnownChanges;
  /**
   * Where no changes are given, every catalog gets its tree digest, the root's included (to
   * compare the tree with a tag's). Otherwise only a nested catalog that is compared with its
   * previous version gets one; the others record none (`''`), which describeCatalogTree
   * computes when a later publish needs it.
   */
  rootDigest?: boolean;
  /** Told when a catalog could not be patched (it is then written afresh). */
  patchFailed?(mountpoint: string, error: Error): void;
}

export interface CatalogBuildResult {
  root: CatalogRecord;
  records: CatalogRecord[];
  written: number;
  reused: number;
  /** Of the written catalogs, how many were patched from their previous version. */
  patched: number;
}

/** Past this share of changed rows a catalog is written afresh rather than patched. */
const PATCH_MAX_SHARE = 0.25;

/** Removed paths by the catalog (current mount point) whose rows they were. */
function removedByCatalog(
  removed: readonly string[],
  mountpoints: ReadonlySet<string>,
): Map<string, string[]> {
  const byCatalog = new Map<string, string[]>();
  for (const path of removed) {
    let mount = parentPath(path);
    while (mount !== '' && !mountpoints.has(mount)) mount = parentPath(mount);
    const list = byCatalog.get(mount);
    if (list === undefined) byCatalog.set(mount, [path]);
    else list.push(path);
  }
  return byCatalog;
}

function sameChildMounts(previous: CatalogRecord, childMounts: readonly TreeNode[]): boolean {
  if (previous.children.length !== childMounts.length) return false;
  const paths = new Set(previous.children.map((child) => child.path));
  return childMounts.every((child) => paths.has(child.path));
}

/**
 * Writes the catalogs of a tree, leaves first, so a change costs only the catalogs on its path:
 * a nested catalog whose subtree did not change keeps its object, and a catalog that did is
 * patched (its changed rows rewritten) when the changes are known and few, else written afresh.
 */
export async function buildCatalogs(input: CatalogBuildInput): Promise<CatalogBuildResult> {
  const records: CatalogRecord[] = [];
  let written = 0;
  let reused = 0;
  let patched = 0;
  const { changes } = input;
  const removed =
    changes === undefined ? undefined : removedByCatalog(changes.removed, input.mountpoints);

  async function build(mount: TreeNode): Promise<CatalogRecord> {
    const nodes = catalogNodes(mount, input.mountpoints);
    const childMounts = nodes.filter(
      (node) => node !== mount && isDirectory(node) && input.mountpoints.has(node.path),
    );
    const children: CatalogRecord[] = [];
    for (const child of childMounts) children.push(await build(child));
    const previous = input.previous.get(mount.path);
    const nested: NestedCatalogRef[] = children.map((child) => ({
      path: child.mountpoint,
      hashHex: child.hashHex,
      size: child.size,
    }));
    const subtree = subtreeCounters(children.map((child) => child.counters));
    const revision = mount.path === '' ? input.revision : (previous?.revision ?? 0) + 1;
    const properties: CatalogProperties = {
      revision,
      lastModified: input.now,
      ttl: mount.path === '' ? input.ttl : undefined,
      previousRevision: previous?.hashHex,
    };

    let bytes: Buffer | undefined;
    let counters: Counters | undefined;
    let digest = '';
    if (changes !== undefined && previous !== undefined && sameChildMounts(previous, childMounts)) {
      const upserts = nodes.filter((node) => changes.changed.has(node));
      const removals = removed?.get(mount.path) ?? [];
      const childrenKept = children.every((child) =>
        previous.children.some(
          (old) => old.path === child.mountpoint && old.hashHex === child.hashHex,
        ),
      );
      if (mount.path !== '' && upserts.length === 0 && removals.length === 0 && childrenKept) {
        reused++;
        records.push(previous);
        return previous;
      }
      const base =
        upserts.length + removals.length <= nodes.length * PATCH_MAX_SHARE
          ? await changes.base(previous)
          : undefined;
      if (base !== undefined) {
        // Hard link groups are numbered per catalog: members are rewritten with any change.
        const rewrite = new Set(upserts);
        const entries = toEntries(
          nodes,
          input,
          (node) => rewrite.has(node) || (isRegular(node) && node.nlink > 1),
        );
        counters = { self: countNodes(nodes, nested.length), subtree };
        try {
          bytes = patchCatalog(base, {
            mountpoint: mount.path,
            upserts: entries,
            removals,
            nested,
            counters,
            properties,
            entryCount: nodes.length,
          });
          patched++;
        } catch (error) {
          input.patchFailed?.(mount.path, error as Error);
        }
      }
    }
    if (bytes === undefined) {
      const entries = toEntries(nodes, input);
      counters = { self: selfCounters(entries, nested.length), subtree };
      const compared = mount.path !== '' && previous !== undefined;
      if (changes === undefined && (compared || input.rootDigest === true)) {
        digest = catalogTreeDigest(
          entries,
          new Map(children.map((child) => [child.mountpoint, child.digest])),
        );
        if (compared && previous.digest === digest) {
          reused++;
          records.push(previous);
          return previous;
        }
      }
      bytes = writeCatalog({ mountpoint: mount.path, entries, nested, counters, properties });
    }

    const hashHex = await input.store(bytes);
    written++;
    const record: CatalogRecord = {
      hashHex,
      mountpoint: mount.path,
      digest,
      size: bytes.length,
      revision,
      counters: counters!,
      children: children.map((child) => ({ path: child.mountpoint, hashHex: child.hashHex })),
    };
    records.push(record);
    return record;
  }

  const root = await build(input.tree);
  return { root, records, written, reused, patched };
}
