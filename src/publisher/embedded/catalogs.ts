import { selfCounters, subtreeCounters } from '../../cvmfs/catalog/counters.js';
import { digestOfLines, entryLine, linePath } from '../../cvmfs/catalog/digest.js';
import type { CatalogEntry, NestedCatalogRef } from '../../cvmfs/catalog/entry.js';
import { S_IFBLK, S_IFCHR, S_IFMT } from '../../cvmfs/catalog/entry.js';
import { patchCatalog, writeCatalog, type CatalogPatch } from '../../cvmfs/catalog/sqlite.js';
import { hashFromHex, type HashAlgorithm } from '../../cvmfs/hash.js';
import type { CatalogRecord } from '../../reader/catalog-tree.js';
import type { StoredContent } from './content-pipeline.js';
import { isDirectory, isRegular, type TreeNode } from './tree.js';

export interface CatalogBuildInput {
  tree: TreeNode;
  mountpoints: ReadonlySet<string>;
  contents: ReadonlyMap<TreeNode, StoredContent>;
  /** The previous revision's catalogs, by mount point. */
  previous: ReadonlyMap<string, CatalogRecord>;
  revision: number;
  now: number;
  ttl: number;
  algorithm: HashAlgorithm;
  /** Compresses and stores a catalog file; returns its hash. */
  store(bytes: Buffer): Promise<string>;
  /** A previous catalog to patch instead of writing a new one from scratch, if known. */
  base?(previous: CatalogRecord): Promise<CatalogBase | undefined>;
  /** Told when a base could not be patched (the catalog is then written afresh). */
  patchFailed?(mountpoint: string, error: Error): void;
}

/** A catalog's uncompressed file and the `entryLine` of each of its entries. */
export interface CatalogBase {
  bytes: Buffer;
  lines: readonly string[];
}

export interface CatalogBuildResult {
  root: CatalogRecord;
  records: CatalogRecord[];
  written: number;
  reused: number;
  /** Of the written catalogs, how many were patched from their previous version. */
  patched: number;
  /** The entry lines of each written catalog, by hash: the `CatalogBase` of the next publish. */
  lines: Map<string, readonly string[]>;
}

/** Past this share of changed rows a catalog is written afresh rather than patched. */
const PATCH_MAX_SHARE = 0.25;

/** The patch that turns `base` into a catalog of `entries`, or undefined if it is not worth it. */
function diffEntries(
  base: CatalogBase,
  entries: readonly CatalogEntry[],
  lines: readonly string[],
  rest: Omit<CatalogPatch, 'upserts' | 'removals' | 'entryCount'>,
): CatalogPatch | undefined {
  const old = new Map<string, string>();
  for (const line of base.lines) old.set(linePath(line), line);
  const upserts: CatalogEntry[] = [];
  entries.forEach((entry, index) => {
    if (old.get(entry.path) !== lines[index]) upserts.push(entry);
    old.delete(entry.path);
  });
  const removals = [...old.keys()];
  if (upserts.length + removals.length > entries.length * PATCH_MAX_SHARE) return undefined;
  return { ...rest, upserts, removals, entryCount: entries.length };
}

/**
 * Writes the catalogs of a tree, leaves first. A nested catalog whose subtree says exactly
 * what the previous revision's catalog at the same mount point says keeps its object, so a
 * change costs only the catalogs on its path.
 */
export async function buildCatalogs(input: CatalogBuildInput): Promise<CatalogBuildResult> {
  const records: CatalogRecord[] = [];
  let written = 0;
  let reused = 0;
  let patched = 0;
  const linesByHash = new Map<string, readonly string[]>();

  async function build(mount: TreeNode): Promise<CatalogRecord> {
    const nodes = catalogNodes(mount, input.mountpoints);
    const childMounts = nodes.filter(
      (node) => node !== mount && isDirectory(node) && input.mountpoints.has(node.path),
    );
    const children: CatalogRecord[] = [];
    for (const child of childMounts) children.push(await build(child));

    const entries = toEntries(nodes, mount, input);
    const lines = entries.map(entryLine);
    const digest = digestOfLines(
      lines,
      new Map(children.map((child) => [child.mountpoint, child.digest])),
    );
    const previous = input.previous.get(mount.path);
    if (mount.path !== '' && previous !== undefined && previous.digest === digest) {
      reused++;
      records.push(previous);
      return previous;
    }
    const nested: NestedCatalogRef[] = children.map((child) => ({
      path: child.mountpoint,
      hashHex: child.hashHex,
      size: child.size,
    }));
    const counters = {
      self: selfCounters(entries, nested.length),
      subtree: subtreeCounters(children.map((child) => child.counters)),
    };
    const revision = mount.path === '' ? input.revision : (previous?.revision ?? 0) + 1;
    const rest = {
      mountpoint: mount.path,
      nested,
      counters,
      properties: {
        revision,
        lastModified: input.now,
        ttl: mount.path === '' ? input.ttl : undefined,
        previousRevision: previous?.hashHex,
      },
    };
    let bytes: Buffer | undefined;
    const base = previous === undefined ? undefined : await input.base?.(previous);
    const patch = base === undefined ? undefined : diffEntries(base, entries, lines, rest);
    if (base !== undefined && patch !== undefined) {
      try {
        bytes = patchCatalog(base.bytes, patch);
        patched++;
      } catch (error) {
        input.patchFailed?.(mount.path, error as Error);
      }
    }
    bytes ??= writeCatalog({ ...rest, entries });
    const hashHex = await input.store(bytes);
    written++;
    linesByHash.set(hashHex, lines);
    const record: CatalogRecord = {
      hashHex,
      mountpoint: mount.path,
      digest,
      size: bytes.length,
      revision,
      counters,
      children: children.map((child) => ({ path: child.mountpoint, hashHex: child.hashHex })),
    };
    records.push(record);
    return record;
  }

  const root = await build(input.tree);
  return { root, records, written, reused, patched, lines: linesByHash };
}

/** The nodes of one catalog: its root, everything below it, and child mount points (as transition rows). */
function catalogNodes(mount: TreeNode, mountpoints: ReadonlySet<string>): TreeNode[] {
  const nodes: TreeNode[] = [mount];
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    if (node.children !== undefined && (node === mount || !mountpoints.has(node.path)))
      nodes.push(...node.children);
  }
  return nodes;
}

function toEntries(
  nodes: readonly TreeNode[],
  mount: TreeNode,
  input: CatalogBuildInput,
): CatalogEntry[] {
  const inodeMembers = new Map<string, number>();
  for (const node of nodes) {
    if (isRegular(node) && node.nlink > 1) {
      const key = `${node.dev}:${node.ino}`;
      inodeMembers.set(key, (inodeMembers.get(key) ?? 0) + 1);
    }
  }
  const groups = new Map<string, number>();
  return nodes.map((node): CatalogEntry => {
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
      if (node !== mount && input.mountpoints.has(node.path)) entry.nestedMountpoint = true;
    } else if (isRegular(node)) {
      const content = input.contents.get(node)!;
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
      const key = `${node.dev}:${node.ino}`;
      const members = inodeMembers.get(key) ?? 1;
      if (members > 1) {
        let group = groups.get(key);
        if (group === undefined) groups.set(key, (group = groups.size + 1));
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
  });
}
