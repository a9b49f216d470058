import type { PackageRecord } from '../package-source.js';
import { getField } from './control.js';
import type { Relation } from './relations.js';
import { compareDebianVersions, satisfiesRelation } from './version.js';

/** The records of one suite for one architecture, indexed once for closure checks. */
export interface SuiteIndex {
  /** Records of the architecture or `all`, by package name. */
  byName: Map<string, PackageRecord[]>;
  /** Names with an `Essential: yes` record. */
  essential: Set<string>;
  /** For pinned names only: the other architectures they exist for. */
  foreign: Map<string, Set<string>>;
}

/** A member of the set that can satisfy a relation on a name: itself, or through Provides. */
export interface Candidate {
  record: PackageRecord;
  /** The version relations are checked against; undefined for an unversioned provide. */
  version: string | undefined;
  provides: boolean;
}

export function isEssential(record: PackageRecord): boolean {
  return getField(record.fields, 'Essential')?.trim().toLowerCase() === 'yes';
}

/** One pass over a possibly large index (tens of thousands of records). */
export function indexSuite(
  records: Iterable<PackageRecord>,
  architecture: string,
  pinned: ReadonlyMap<string, string>,
): SuiteIndex {
  const index: SuiteIndex = { byName: new Map(), essential: new Set(), foreign: new Map() };
  for (const record of records) {
    if (record.architecture !== architecture && record.architecture !== 'all') {
      if (pinned.has(record.name)) {
        const others = index.foreign.get(record.name) ?? new Set<string>();
        index.foreign.set(record.name, others.add(record.architecture));
      }
      continue;
    }
    const list = index.byName.get(record.name);
    if (list === undefined) index.byName.set(record.name, [record]);
    else list.push(record);
    if (isEssential(record)) index.essential.add(record.name);
  }
  return index;
}

/** Equal as dpkg compares (`1.0` = `0:1.0-0`); an invalid version equals only itself. */
export function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return compareDebianVersions(a, b) === 0;
  } catch {
    return false;
  }
}

export function newestRecord(records: readonly PackageRecord[]): PackageRecord | undefined {
  let newest: PackageRecord | undefined;
  for (const record of records) {
    try {
      if (newest === undefined || compareDebianVersions(record.version, newest.version) > 0) {
        newest = record;
      }
    } catch {
      // a record with an invalid version is never the newest
    }
  }
  return newest;
}

/**
 * Whether a candidate fits a relation's `name:qualifier` and version constraint. Every member
 * is native or `all`, so `:native` and `:<native arch>` always fit, another architecture never
 * does, and `:any` needs `Multi-Arch: allowed` (as dpkg requires, also for providers).
 */
export function candidateSatisfies(
  relation: Relation,
  candidate: Candidate,
  architecture: string,
): boolean {
  const qualifier = relation.archQualifier;
  if (qualifier === 'any') {
    if (getField(candidate.record.fields, 'Multi-Arch')?.trim() !== 'allowed') return false;
  } else if (qualifier !== undefined && qualifier !== 'native' && qualifier !== architecture) {
    return false;
  }
  const { constraint } = relation;
  if (constraint === undefined) return true;
  // An unversioned provide never satisfies a versioned relation.
  if (candidate.version === undefined) return false;
  try {
    return satisfiesRelation(candidate.version, constraint.op, constraint.version);
  } catch {
    return false;
  }
}

/** `libtinfo6 6.3-1`, or `mawk 1.3.4-2 provides awk (= 1.3.4)` for a provider. */
export function describeCandidate(candidate: Candidate, name: string): string {
  const { record } = candidate;
  if (!candidate.provides) return `${record.name} ${record.version}`;
  const provided = candidate.version === undefined ? name : `${name} (= ${candidate.version})`;
  return `${record.name} ${record.version} provides ${provided}`;
}
