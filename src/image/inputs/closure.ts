import { UcvmError } from '../../errors.js';
import type { PackageRecord } from '../../packages/package-source.js';
import {
  candidateSatisfies,
  indexSuite,
  newestRecord,
  sameVersion,
} from '../../packages/debian/closure-set.js';
import type { Candidate, SuiteIndex } from '../../packages/debian/closure-set.js';
import { getField } from '../../packages/debian/control.js';
import {
  formatRelationGroup,
  parseProvides,
  parseRelations,
  relationsForArchitecture,
} from '../../packages/debian/relations.js';
import type { Relation, RelationGroup } from '../../packages/debian/relations.js';

export interface ImageClosureRequest {
  records: Iterable<PackageRecord>;
  architecture: string;
  /** Followed only to the `linux-image-*` packages it depends on: a kernel needs no libraries. */
  kernel: string;
  /** Followed through Depends and Pre-Depends: their programs need the libraries. */
  programs: readonly string[];
  /** Taken alone. */
  files: readonly string[];
  /** Versions to keep where the index still has them (name → version). */
  pins: ReadonlyMap<string, string>;
}

/**
 * The closed set a boot image is built from, chosen from one suite's index: each name at
 * its pinned version when the index still has it and it fits, else the newest that fits.
 * Alternatives take the first already chosen, else the first the index can satisfy; a
 * virtual package takes a chosen provider, else the first provider by name. Nothing here
 * has to be installable: the image takes files out of the packages, it never runs dpkg.
 */
export function resolveImageClosure(request: ImageClosureRequest): Map<string, PackageRecord> {
  const suite = indexSuite(request.records, request.architecture, request.pins);
  const resolver = new Resolver(suite, request);
  resolver.add(request.kernel, 'kernel', undefined);
  for (const name of request.programs) resolver.add(name, 'program', undefined);
  for (const name of request.files) resolver.add(name, 'file', undefined);
  resolver.drain();
  return new Map([...resolver.chosen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

type Role = 'kernel' | 'program' | 'file';

class Resolver {
  readonly chosen = new Map<string, PackageRecord>();
  private readonly queue: Array<{ record: PackageRecord; role: Role }> = [];
  private providers: Map<string, PackageRecord[]> | undefined;

  constructor(
    private readonly suite: SuiteIndex,
    private readonly request: ImageClosureRequest,
  ) {}

  add(name: string, role: Role, neededBy: string | undefined): void {
    const record = this.pick({ name }) ?? this.refuse([[{ name }]], neededBy);
    this.take(record, role);
  }

  drain(): void {
    for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
      for (const group of this.dependencies(item.record)) {
        if (item.role === 'kernel') {
          for (const relation of group.filter((r) => r.name.startsWith('linux-image-'))) {
            const record = this.pick(relation) ?? this.refuse([group], describe(item.record));
            this.take(record, 'kernel');
          }
          continue;
        }
        if (group.some((relation) => this.satisfiedByChosen(relation))) continue;
        const record = firstDefined(group, (relation) => this.pick(relation));
        this.take(record ?? this.refuse([group], describe(item.record)), 'program');
      }
    }
  }

  private take(record: PackageRecord, role: Role): void {
    const existing = this.chosen.get(record.name);
    if (existing !== undefined) {
      if (!sameVersion(existing.version, record.version))
        throw new UcvmError(
          'PACKAGE_CLOSURE',
          `the image needs ${record.name} both at ${existing.version} and at ${record.version}`,
        );
      return;
    }
    this.chosen.set(record.name, record);
    if (role !== 'file') this.queue.push({ record, role });
  }

  private dependencies(record: PackageRecord): RelationGroup[] {
    const groups: RelationGroup[] = [];
    for (const field of ['Pre-Depends', 'Depends']) {
      const text = getField(record.fields, field);
      if (text === undefined) continue;
      const parsed = relationsForArchitecture(
        parseRelations(text, field),
        this.request.architecture,
      );
      groups.push(...parsed);
    }
    return groups;
  }

  private satisfiedByChosen(relation: Relation): boolean {
    return this.candidates(relation.name, [...this.chosen.values()]).some((candidate) =>
      candidateSatisfies(relation, candidate, this.request.architecture),
    );
  }

  /** The record a relation takes: the pinned version if it fits, else the newest that fits. */
  private pick(relation: Relation): PackageRecord | undefined {
    const { architecture, pins } = this.request;
    const real = (this.suite.byName.get(relation.name) ?? []).filter((record) =>
      candidateSatisfies(
        relation,
        { record, version: record.version, provides: false },
        architecture,
      ),
    );
    const pinned = pins.get(relation.name);
    if (real.length > 0) {
      return (
        real.find((record) => pinned !== undefined && sameVersion(record.version, pinned)) ??
        newestRecord(real)
      );
    }
    const providing = this.candidates(relation.name, this.allProviders(relation.name)).filter(
      (candidate) => candidateSatisfies(relation, candidate, architecture),
    );
    const chosen = providing.find((candidate) => this.chosen.has(candidate.record.name));
    const sorted = providing.sort((a, b) => (a.record.name < b.record.name ? -1 : 1));
    return (chosen ?? sorted[0])?.record;
  }

  /** Candidates for a name among records: the package itself, or a provider of it. */
  private candidates(name: string, records: readonly PackageRecord[]): Candidate[] {
    const result: Candidate[] = [];
    for (const record of records) {
      if (record.name === name) result.push({ record, version: record.version, provides: false });
      const field = getField(record.fields, 'Provides');
      if (field === undefined) continue;
      for (const entry of parseProvides(field, this.request.architecture)) {
        if (entry.name === name) result.push({ record, version: entry.version, provides: true });
      }
    }
    return result;
  }

  private allProviders(name: string): PackageRecord[] {
    if (this.providers === undefined) {
      this.providers = new Map();
      for (const records of this.suite.byName.values()) {
        for (const record of records) {
          const field = getField(record.fields, 'Provides');
          if (field === undefined) continue;
          for (const entry of parseProvides(field, this.request.architecture)) {
            const list = this.providers.get(entry.name) ?? [];
            this.providers.set(entry.name, [...list, record]);
          }
        }
      }
    }
    return this.providers.get(name) ?? [];
  }

  private refuse(groups: RelationGroup[], neededBy: string | undefined): never {
    const what = groups.map((group) => formatRelationGroup(group)).join(', ');
    throw new UcvmError(
      'PACKAGE_MISSING',
      neededBy === undefined
        ? `no package ${what} for ${this.request.architecture} in the index`
        : `nothing in the index satisfies ${what}, needed by ${neededBy}`,
      { details: 'Check the name in pipeline/image.yaml, or the sources for its base.suite.' },
    );
  }
}

function describe(record: PackageRecord): string {
  return `${record.name} ${record.version}`;
}

function firstDefined<T, R>(items: readonly T[], map: (item: T) => R | undefined): R | undefined {
  for (const item of items) {
    const value = map(item);
    if (value !== undefined) return value;
  }
  return undefined;
}
