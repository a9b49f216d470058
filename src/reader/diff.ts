import type { CatalogEntry } from '../cvmfs/catalog/entry.js';
import { entryKind, type EntryKind } from '../cvmfs/catalog/entry.js';
import { encodeXattrs } from '../cvmfs/catalog/xattr.js';
import { hashToHex } from '../cvmfs/hash.js';
import type { Snapshot } from './snapshot.js';

export type ChangeKind = 'added' | 'removed' | 'modified';

export interface PathChange {
  path: string;
  change: ChangeKind;
  kind: EntryKind;
  /** For modifications: which properties differ (content, type, mode, owner, mtime, target, xattrs). */
  fields?: string[];
  fromSize?: number;
  toSize?: number;
}

export interface SnapshotDiff {
  changes: PathChange[];
  summary: {
    added: number;
    removed: number;
    modified: number;
    /** Bytes of regular files added, removed, and of the new content of changed files. */
    bytesAdded: number;
    bytesRemoved: number;
    bytesChanged: number;
    /** Net change of the total size of regular files. */
    bytesDelta: number;
    catalogsCompared: number;
    catalogsSkipped: number;
  };
}

function contentKey(entry: CatalogEntry): string {
  if (entry.chunks !== undefined && entry.chunks.length > 0)
    return entry.chunks.map((c) => hashToHex(c.hash)).join(',');
  return entry.hash === undefined ? '' : hashToHex(entry.hash);
}

function changedFields(a: CatalogEntry, b: CatalogEntry): string[] {
  const fields: string[] = [];
  if (entryKind(a) !== entryKind(b)) return ['type'];
  if (contentKey(a) !== contentKey(b) || (entryKind(a) === 'regular' && a.size !== b.size))
    fields.push('content');
  if ((a.mode & 0o7777) !== (b.mode & 0o7777)) fields.push('mode');
  if (a.uid !== b.uid || a.gid !== b.gid) fields.push('owner');
  // Nanoseconds count only where both catalogs record them (schema revision 6 has none).
  const bothNs = a.mtimeNs !== undefined && b.mtimeNs !== undefined;
  if (a.mtime !== b.mtime || (bothNs && a.mtimeNs !== b.mtimeNs)) fields.push('mtime');
  if (a.symlink !== b.symlink) fields.push('target');
  if (entryKind(a) === 'special' && a.size !== b.size) fields.push('device');
  const xa = a.xattrs === undefined ? '' : (encodeXattrs(a.xattrs)?.toString('hex') ?? '');
  const xb = b.xattrs === undefined ? '' : (encodeXattrs(b.xattrs)?.toString('hex') ?? '');
  if (xa !== xb) fields.push('xattrs');
  return fields;
}

/**
 * What changed between two snapshots, path by path. Subtrees whose nested catalogs have the
 * same hash on both sides are identical and are not read at all.
 */
export async function diffSnapshots(from: Snapshot, to: Snapshot): Promise<SnapshotDiff> {
  const left = new Map<string, CatalogEntry>();
  const right = new Map<string, CatalogEntry>();
  let compared = 0;
  let skipped = 0;
  const queue: Array<{ a: string | undefined; b: string | undefined }> = [
    { a: from.rootHash, b: to.rootHash },
  ];
  while (queue.length > 0) {
    const { a, b } = queue.shift()!;
    if (a !== undefined && a === b) {
      skipped++;
      continue;
    }
    compared++;
    const children = new Map<string, { a: string | undefined; b: string | undefined }>();
    for (const [hash, side, target] of [
      [a, 'a', left],
      [b, 'b', right],
    ] as const) {
      if (hash === undefined) continue;
      const catalog = await (side === 'a' ? from : to).repository.catalog(hash);
      for (const entry of catalog.entries())
        if (entry.nestedMountpoint !== true) target.set(entry.path, entry);
      for (const ref of catalog.nested()) {
        const pair = children.get(ref.path) ?? { a: undefined, b: undefined };
        pair[side] = ref.hashHex;
        children.set(ref.path, pair);
      }
    }
    queue.push(...children.values());
  }

  const changes: PathChange[] = [];
  const summary: SnapshotDiff['summary'] = {
    added: 0,
    removed: 0,
    modified: 0,
    bytesAdded: 0,
    bytesRemoved: 0,
    bytesChanged: 0,
    bytesDelta: 0,
    catalogsCompared: compared,
    catalogsSkipped: skipped,
  };
  const regularSize = (entry: CatalogEntry): number =>
    entryKind(entry) === 'regular' ? entry.size : 0;
  for (const path of new Set([...left.keys(), ...right.keys()])) {
    const a = left.get(path);
    const b = right.get(path);
    summary.bytesDelta +=
      (b === undefined ? 0 : regularSize(b)) - (a === undefined ? 0 : regularSize(a));
    if (a === undefined && b !== undefined) {
      changes.push({ path, change: 'added', kind: entryKind(b), toSize: b.size });
      summary.added++;
      summary.bytesAdded += regularSize(b);
    } else if (b === undefined && a !== undefined) {
      changes.push({ path, change: 'removed', kind: entryKind(a), fromSize: a.size });
      summary.removed++;
      summary.bytesRemoved += regularSize(a);
    } else if (a !== undefined && b !== undefined) {
      const fields = changedFields(a, b);
      if (fields.length === 0) continue;
      changes.push({
        path,
        change: 'modified',
        kind: entryKind(b),
        fields,
        fromSize: a.size,
        toSize: b.size,
      });
      summary.modified++;
      if (fields.includes('content') || fields.includes('type'))
        summary.bytesChanged += regularSize(b);
    }
  }
  changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return { changes, summary };
}
