import { kindOfMode, type CatalogEntry } from './entry.js';

export const COUNTER_FIELDS = [
  'regular',
  'symlink',
  'special',
  'dir',
  'nested',
  'chunked',
  'chunks',
  'file_size',
  'chunked_size',
  'xattr',
  'external',
  'external_file_size',
] as const;

export type CounterField = (typeof COUNTER_FIELDS)[number];
export type CounterSet = Record<CounterField, number>;

/** `self_*` counts this catalog's rows; `subtree_*` sums self + subtree of every child catalog. */
export interface Counters {
  self: CounterSet;
  subtree: CounterSet;
}

export function emptyCounterSet(): CounterSet {
  return Object.fromEntries(COUNTER_FIELDS.map((field) => [field, 0])) as CounterSet;
}

/** What the counters need to know of one row. */
export interface CountedRow {
  mode: number;
  size: number;
  hasXattrs: boolean;
  /** Number of chunks (0 for an unchunked file). */
  chunks: number;
}

/** `self_*` counters of rows seen through `view` (entries, or anything that becomes rows). */
export function countRows<T>(
  items: Iterable<T>,
  view: (item: T) => CountedRow,
  nestedCount: number,
): CounterSet {
  const set = emptyCounterSet();
  set.nested = nestedCount;
  for (const item of items) {
    const row = view(item);
    if (row.hasXattrs) set.xattr++;
    const kind = kindOfMode(row.mode);
    if (kind === 'directory') set.dir++;
    else if (kind === 'symlink') set.symlink++;
    else if (kind === 'special') set.special++;
    else {
      set.regular++;
      set.file_size += row.size;
      if (row.chunks > 0) {
        set.chunked++;
        set.chunks += row.chunks;
        set.chunked_size += row.size;
      }
    }
  }
  return set;
}

export function selfCounters(entries: readonly CatalogEntry[], nestedCount: number): CounterSet {
  return countRows(
    entries,
    (entry) => ({
      mode: entry.mode,
      size: entry.size,
      hasXattrs: entry.xattrs !== undefined && entry.xattrs.size > 0,
      chunks: entry.chunks?.length ?? 0,
    }),
    nestedCount,
  );
}

export function subtreeCounters(children: readonly Counters[]): CounterSet {
  const set = emptyCounterSet();
  for (const child of children) {
    for (const field of COUNTER_FIELDS) set[field] += child.self[field] + child.subtree[field];
  }
  return set;
}

export function counterRows(counters: Counters): Array<[string, number]> {
  return COUNTER_FIELDS.flatMap((field): Array<[string, number]> => [
    [`self_${field}`, counters.self[field]],
    [`subtree_${field}`, counters.subtree[field]],
  ]);
}

export function countersFromRows(rows: ReadonlyMap<string, number>): Counters {
  const self = emptyCounterSet();
  const subtree = emptyCounterSet();
  for (const field of COUNTER_FIELDS) {
    const own = rows.get(`self_${field}`);
    const below = rows.get(`subtree_${field}`);
    if (own === undefined || below === undefined)
      throw new Error(`catalog statistics lack ${field}`);
    self[field] = own;
    subtree[field] = below;
  }
  return { self, subtree };
}
