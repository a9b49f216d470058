import { entryKind, type CatalogEntry } from './entry.js';

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

export function selfCounters(entries: readonly CatalogEntry[], nestedCount: number): CounterSet {
  const set = emptyCounterSet();
  set.nested = nestedCount;
  for (const entry of entries) {
    const kind = entryKind(entry);
    if (entry.xattrs !== undefined && entry.xattrs.size > 0) set.xattr++;
    if (kind === 'directory') set.dir++;
    else if (kind === 'symlink') set.symlink++;
    else if (kind === 'special') set.special++;
    else {
      set.regular++;
      set.file_size += entry.size;
      if (entry.chunks !== undefined && entry.chunks.length > 0) {
        set.chunked++;
        set.chunks += entry.chunks.length;
        set.chunked_size += entry.size;
      }
    }
  }
  return set;
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
