import { UcvmError, isUcvmError } from '../../errors.js';
import type { PackageRecord } from '../package-source.js';
import {
  candidateSatisfies,
  describeCandidate,
  indexSuite,
  isEssential,
  newestRecord,
  sameVersion,
} from './closure-set.js';
import type { Candidate } from './closure-set.js';
import { getField } from './control.js';
import {
  formatRelation,
  formatRelationGroup,
  parseProvides,
  parseRelations,
  relationsForArchitecture,
} from './relations.js';
import type { RelationGroup } from './relations.js';

export type ClosureProblemKind =
  | 'missing-package'
  | 'missing-version'
  | 'unsatisfied-depends'
  | 'conflict'
  | 'breaks'
  | 'missing-essential';

export interface ClosureProblem {
  kind: ClosureProblemKind;
  /** The package the problem is about (for missing-essential, the essential package). */
  package: string;
  /** Its pinned version (for missing-essential, the newest available version). */
  version: string;
  /** The reason, without the package: `Depends libtinfo6 (>= 6) not satisfied …`. */
  detail: string;
  /** `package version: detail`. */
  message: string;
}

export interface ClosureReport {
  ok: boolean;
  /** Ordered by kind (in the order of `ClosureProblemKind`), then package name. */
  problems: ClosureProblem[];
  /** The records of the pinned packages that were found, by name. */
  members: ReadonlyMap<string, PackageRecord>;
}

export interface ClosureInput {
  /** Package name → exact version. */
  pinned: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** Every record of the suite (e.g. `PackageIndex.all()`); other architectures are ignored. */
  records: Iterable<PackageRecord>;
  /** The native architecture, e.g. `amd64`; `all` records always count. */
  architecture: string;
}

const kindOrder: readonly ClosureProblemKind[] = [
  'missing-package',
  'missing-version',
  'unsatisfied-depends',
  'conflict',
  'breaks',
  'missing-essential',
];

function problem(
  kind: ClosureProblemKind,
  name: string,
  version: string,
  detail: string,
): ClosureProblem {
  return { kind, package: name, version, detail, message: `${name} ${version}: ${detail}` };
}

function notPinned(group: RelationGroup): string {
  if (group.length > 1) return 'none of them is pinned or provided';
  return `${group[0]?.name ?? ''} is not pinned and nothing pinned provides it`;
}

/**
 * Checks that a pinned package set is closed: every pinned name exists at exactly its version
 * for the architecture (or `all`); every Depends and Pre-Depends is satisfied inside the set
 * (alternatives, versions, Provides including versioned provides, `:any`); no member Conflicts
 * with or Breaks another; and every Essential package of the suite is pinned. Problems are
 * returned, not thrown; a relation field that cannot be parsed is reported as
 * unsatisfied-depends. Recommends, Suggests, Enhances and Replaces are not checked; Priority is
 * ignored.
 */
export function checkClosure(input: ClosureInput): ClosureReport {
  const { architecture } = input;
  const pinned: ReadonlyMap<string, string> =
    input.pinned instanceof Map ? input.pinned : new Map(Object.entries(input.pinned));
  const suite = indexSuite(input.records, architecture, pinned);
  const problems: ClosureProblem[] = [];
  const report = (kind: ClosureProblemKind, record: PackageRecord, detail: string): void => {
    problems.push(problem(kind, record.name, record.version, detail));
  };

  const members = new Map<string, PackageRecord>();
  const absent: [string, string][] = [];
  for (const [name, version] of [...pinned].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const available = suite.byName.get(name);
    const record = available?.find((candidate) => sameVersion(candidate.version, version));
    if (available === undefined) absent.push([name, version]);
    else if (record !== undefined) members.set(name, record);
    else {
      const versions = [...new Set(available.map((candidate) => candidate.version))].join(', ');
      const detail = `version ${version} is not in the index (available: ${versions})`;
      problems.push(problem('missing-version', name, version, detail));
    }
  }

  const providers = new Map<string, Candidate[]>();
  for (const record of members.values()) {
    const field = getField(record.fields, 'Provides');
    if (field === undefined) continue;
    try {
      for (const entry of parseProvides(field, architecture)) {
        const list = providers.get(entry.name) ?? [];
        list.push({ record, version: entry.version, provides: true });
        providers.set(entry.name, list);
      }
    } catch (error) {
      if (!isUcvmError(error)) throw error;
      report('unsatisfied-depends', record, `Provides cannot be parsed: ${error.message}`);
    }
  }

  for (const [name, version] of absent) {
    const others = suite.foreign.get(name);
    const provided = (providers.get(name) ?? []).map((c) => `${c.record.name} ${c.record.version}`);
    let detail = `no package '${name}' for ${architecture} in the index`;
    if (others !== undefined) detail += ` (only for ${[...others].sort().join(', ')})`;
    else if (provided.length > 0)
      detail += ` (a virtual package provided by ${provided.join(', ')})`;
    problems.push(problem('missing-package', name, version, detail));
  }

  const candidates = (name: string): Candidate[] => {
    const member = members.get(name);
    const real: Candidate[] =
      member === undefined ? [] : [{ record: member, version: member.version, provides: false }];
    return [...real, ...(providers.get(name) ?? [])];
  };
  const relationsOf = (record: PackageRecord, field: string): RelationGroup[] => {
    const text = getField(record.fields, field);
    if (text === undefined) return [];
    try {
      return relationsForArchitecture(parseRelations(text, field), architecture);
    } catch (error) {
      if (!isUcvmError(error)) throw error;
      report('unsatisfied-depends', record, `${field} cannot be parsed: ${error.message}`);
      return [];
    }
  };

  for (const record of members.values()) {
    for (const field of ['Pre-Depends', 'Depends']) {
      for (const group of relationsOf(record, field)) {
        const options = group.flatMap((relation) =>
          candidates(relation.name).map((candidate) => ({ relation, candidate })),
        );
        if (options.some((o) => candidateSatisfies(o.relation, o.candidate, architecture)))
          continue;
        const seen = options.map((o) => describeCandidate(o.candidate, o.relation.name));
        for (const { name } of group) {
          const version = pinned.get(name);
          if (version !== undefined && !members.has(name))
            seen.push(`${name} ${version}, which is not in the index`);
        }
        const context =
          seen.length > 0 ? `pinned: ${[...new Set(seen)].join('; ')}` : notPinned(group);
        const relation = formatRelationGroup(group);
        report(
          'unsatisfied-depends',
          record,
          `${field} ${relation} not satisfied inside the pinned set (${context})`,
        );
      }
    }
    for (const [field, kind] of [
      ['Conflicts', 'conflict'],
      ['Breaks', 'breaks'],
    ] as const) {
      for (const relation of relationsOf(record, field).flat()) {
        for (const candidate of candidates(relation.name)) {
          // A package never conflicts with itself, also not through its own Provides.
          if (candidate.record === record) continue;
          if (!candidateSatisfies(relation, candidate, architecture)) continue;
          const by = describeCandidate(candidate, relation.name);
          report(kind, record, `${field} ${formatRelation(relation)} violated by ${by}`);
        }
      }
    }
  }

  for (const name of [...suite.essential].sort()) {
    if (pinned.has(name)) continue;
    // Only the newest version's flag counts, in case an older one in the index is Essential.
    const newest = newestRecord(suite.byName.get(name) ?? []);
    if (newest === undefined || !isEssential(newest)) continue;
    report('missing-essential', newest, 'Essential: yes in the index but not in the pinned set');
  }

  problems.sort(
    (a, b) =>
      kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) ||
      (a.package < b.package ? -1 : a.package > b.package ? 1 : 0),
  );
  return { ok: problems.length === 0, problems, members };
}

/** Throws PACKAGE_CLOSURE listing every problem when the report is not ok. */
export function assertClosure(report: ClosureReport): void {
  if (report.ok) return;
  const count = report.problems.length;
  const summary = `the pinned package set is not closed (${count} problem${count === 1 ? '' : 's'})`;
  throw new UcvmError('PACKAGE_CLOSURE', summary, {
    details: report.problems.map((entry) => entry.message).join('\n'),
  });
}
