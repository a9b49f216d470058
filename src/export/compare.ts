import { compareNames } from '../reproducible/ordering.js';
import type { ExportEntry, ExportKind } from './plan.js';

/** What one path of a tree is, in terms both a snapshot and an extracted image can say. */
export interface ListedEntry {
  path: string;
  kind: ExportKind;
  perm: number;
  uid: number;
  gid: number;
  mtime: number;
  /** Regular files: size, link count and the sha256 of the content. */
  size?: number;
  nlink?: number;
  sha256?: string;
  /** Regular files with more than one link: the first path (in path order) of the same inode. */
  linkedTo?: string;
  target?: string;
  device?: string;
  /** `name=hex` pairs sorted by name, `user.`, `trusted.` and `security.` names only. */
  xattrs?: string;
}

export type Listing = ReadonlyMap<string, ListedEntry>;

/** The xattrs field of a listing. */
export function xattrsField(xattrs: ReadonlyMap<string, Buffer> | undefined): string | undefined {
  if (xattrs === undefined) return undefined;
  const names = [...xattrs.keys()].filter((name) => /^(user|trusted|security)\./.test(name));
  if (names.length === 0) return undefined;
  return names
    .sort(compareNames)
    .map((name) => `${name}=${xattrs.get(name)!.toString('hex')}`)
    .join(',');
}

/** What the snapshot says the image must hold; `sha256` of each written file's streamed bytes. */
export function expectedListing(
  entries: readonly ExportEntry[],
  sha256: ReadonlyMap<string, string>,
): Map<string, ListedEntry> {
  const result = new Map<string, ListedEntry>();
  for (const entry of entries) {
    const listed: ListedEntry = {
      path: entry.path,
      kind: entry.kind,
      perm: entry.perm,
      uid: entry.uid,
      gid: entry.gid,
      mtime: entry.mtime,
    };
    if (entry.kind === 'regular') {
      listed.size = entry.size;
      listed.nlink = entry.nlink;
      const digest = sha256.get(entry.linkedTo ?? entry.path);
      if (digest !== undefined) listed.sha256 = digest;
      if (entry.linkedTo !== undefined) listed.linkedTo = entry.linkedTo;
    }
    if (entry.target !== undefined) listed.target = entry.target;
    if (entry.device !== undefined) listed.device = `${entry.device.major},${entry.device.minor}`;
    const xattrs = xattrsField(entry.xattrs);
    if (xattrs !== undefined) listed.xattrs = xattrs;
    result.set(entry.path, listed);
  }
  return result;
}

export interface Mismatch {
  path: string;
  /** `missing` (in the snapshot, not in the image), `extra`, or the field that differs. */
  problem: string;
  expected?: string;
  found?: string;
}

const FIELDS = [
  'kind',
  'perm',
  'uid',
  'gid',
  'mtime',
  'size',
  'nlink',
  'sha256',
  'linkedTo',
  'target',
  'device',
  'xattrs',
] as const;

function show(field: (typeof FIELDS)[number], value: string | number | undefined): string {
  if (value === undefined) return '(none)';
  if (field === 'perm' && typeof value === 'number') return `0${value.toString(8)}`;
  return String(value);
}

/** Every difference between what the snapshot says and what the image holds, in path order. */
export function compareListings(expected: Listing, found: Listing): Mismatch[] {
  const mismatches: Mismatch[] = [];
  const paths = [...new Set([...expected.keys(), ...found.keys()])].sort(compareNames);
  for (const path of paths) {
    const want = expected.get(path);
    const have = found.get(path);
    const shown = path === '' ? '/' : path;
    if (have === undefined) {
      mismatches.push({ path: shown, problem: 'missing' });
      continue;
    }
    if (want === undefined) {
      mismatches.push({ path: shown, problem: 'extra' });
      continue;
    }
    for (const field of FIELDS) {
      if (want[field] === have[field]) continue;
      mismatches.push({
        path: shown,
        problem: field,
        expected: show(field, want[field]),
        found: show(field, have[field]),
      });
      if (field === 'kind') break;
    }
  }
  return mismatches;
}
