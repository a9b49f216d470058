import { UcvmError, isUcvmError } from '../../errors.js';
import { normalizeRelationOperator, parseDebianVersion } from './version.js';
import type { RelationOperator, RelationOperatorInput } from './version.js';

export interface VersionConstraint {
  op: RelationOperator;
  version: string;
}

/** One term of `[amd64 !i386]`; a list is all positive or all negated. */
export interface ArchRestriction {
  arch: string;
  negated: boolean;
}

/** One term of a build profile list such as `<!nocheck>`. */
export interface ProfileTerm {
  profile: string;
  negated: boolean;
}

/** One package in a relationship field, e.g. `python3:any (>= 3.11) [amd64] <!nocheck>`. */
export interface Relation {
  name: string;
  /** `any`, `native` or an architecture name, from `name:qualifier`. */
  archQualifier?: string;
  constraint?: VersionConstraint;
  architectures?: ArchRestriction[];
  /** Each `<…>` is one list; the relation applies when every term of some list holds. */
  profiles?: ProfileTerm[][];
}

/** Alternatives separated by `|`: satisfied when any one of them is. */
export type RelationGroup = Relation[];

/** A `Provides` entry; `version` is set for a versioned provide `name (= version)`. */
export interface ProvidedPackage {
  name: string;
  version?: string;
}

const relationPattern =
  /^([A-Za-z0-9][A-Za-z0-9+.-]*)(?::([A-Za-z0-9][A-Za-z0-9-]*))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^\s()<=>][^\s()]*)\s*\))?\s*(?:\[([^\]]*)\])?\s*((?:<[^<>]*>\s*)*)$/;
const archTermPattern = /^(!?)([A-Za-z0-9-]+)$/;
const profileTermPattern = /^(!?)([a-z0-9][a-z0-9.+-]*)$/;

function relationError(field: string, text: string, reason: string): UcvmError {
  return new UcvmError('PACKAGE_VERIFY', `invalid ${field} relation '${text}': ${reason}`, {
    details:
      'A relation is name[:arch] [(op version)] [[arch ...]] [<profile ...>], with op one of ' +
      '<< <= = >= >>; alternatives are separated by | and groups by commas.',
  });
}

function parseArchitectures(field: string, text: string, list: string): ArchRestriction[] {
  const terms = list
    .trim()
    .split(/\s+/)
    .filter((term) => term !== '');
  if (terms.length === 0) throw relationError(field, text, 'empty architecture list');
  const restrictions = terms.map((term) => {
    const match = archTermPattern.exec(term);
    if (match === null) throw relationError(field, text, `invalid architecture '${term}'`);
    return { arch: match[2] as string, negated: match[1] === '!' };
  });
  const negated = restrictions.filter((restriction) => restriction.negated).length;
  if (negated !== 0 && negated !== restrictions.length) {
    throw relationError(field, text, 'an architecture list mixes negated and plain architectures');
  }
  return restrictions;
}

function parseProfiles(field: string, text: string, lists: string): ProfileTerm[][] {
  return [...lists.matchAll(/<([^<>]*)>/g)].map((match) => {
    const terms = (match[1] as string)
      .trim()
      .split(/\s+/)
      .filter((term) => term !== '');
    if (terms.length === 0) throw relationError(field, text, 'empty build profile list');
    return terms.map((term) => {
      const parts = profileTermPattern.exec(term);
      if (parts === null) throw relationError(field, text, `invalid build profile '${term}'`);
      return { profile: parts[2] as string, negated: parts[1] === '!' };
    });
  });
}

function parseRelation(field: string, text: string): Relation {
  const match = relationPattern.exec(text);
  if (match === null)
    throw relationError(field, text, 'not of the form name[:arch] [(op version)]');
  const [, name = '', qualifier, op, version, architectures, profiles] = match;
  const relation: Relation = { name };
  if (qualifier !== undefined) relation.archQualifier = qualifier;
  if (op !== undefined && version !== undefined) {
    try {
      parseDebianVersion(version);
    } catch (error) {
      if (isUcvmError(error)) throw relationError(field, text, error.message);
      throw error;
    }
    relation.constraint = { op: normalizeRelationOperator(op as RelationOperatorInput), version };
  }
  if (architectures !== undefined)
    relation.architectures = parseArchitectures(field, text, architectures);
  if (profiles !== undefined && profiles.trim() !== '')
    relation.profiles = parseProfiles(field, text, profiles);
  return relation;
}

/**
 * Parses a relationship field (Depends, Pre-Depends, Conflicts, Breaks, Replaces, Provides,
 * Build-Depends…): comma-separated groups of `|` alternatives. Whitespace, including the line
 * breaks of a folded field, may appear between any two tokens; empty groups (a trailing comma)
 * are skipped. Throws PACKAGE_VERIFY naming `field` and the bad relation.
 */
export function parseRelations(text: string, field = 'relationship'): RelationGroup[] {
  const groups: RelationGroup[] = [];
  for (const groupText of text.split(',')) {
    if (groupText.trim() === '') continue;
    groups.push(
      groupText.split('|').map((alternative) => {
        const trimmed = alternative.trim();
        if (trimmed === '') throw relationError(field, groupText.trim(), 'empty alternative');
        return parseRelation(field, trimmed);
      }),
    );
  }
  return groups;
}

const cpuOfArch: Readonly<Record<string, string>> = { armel: 'arm', armhf: 'arm', x32: 'amd64' };

/** Splits a Debian architecture into operating system and CPU (a simplified Dpkg::Arch). */
function archTuple(arch: string): { os: string; cpu: string } {
  const dash = arch.lastIndexOf('-');
  if (dash < 0) return { os: 'linux', cpu: cpuOfArch[arch] ?? arch };
  return { os: arch.slice(0, dash), cpu: arch.slice(dash + 1) };
}

/**
 * True if `arch` matches `pattern`: the same name, `any`, or a wildcard `os-any` / `any-cpu`
 * (`linux-any`, `any-amd64`). Bare names are Linux; armel/armhf count as CPU `arm`.
 */
export function archMatches(arch: string, pattern: string): boolean {
  if (pattern === 'any' || pattern === arch) return true;
  if (!pattern.includes('any')) return false;
  const actual = archTuple(arch);
  const dash = pattern.lastIndexOf('-');
  if (dash < 0) return false;
  const os = pattern.slice(0, dash);
  const cpu = pattern.slice(dash + 1);
  return (
    (os === 'any' || os === actual.os || actual.os.endsWith(`-${os}`)) &&
    (cpu === 'any' || cpu === actual.cpu)
  );
}

function appliesTo(relation: Relation, arch: string): boolean {
  if (relation.architectures === undefined) return true;
  const matched = relation.architectures.some((restriction) => archMatches(arch, restriction.arch));
  return relation.architectures[0]?.negated === true ? !matched : matched;
}

/**
 * The relations that apply on `arch`: alternatives restricted to other architectures are
 * removed (and a group left empty with them), and build profile restrictions are dropped,
 * i.e. the relation is kept as if every profile list held.
 */
export function relationsForArchitecture(
  groups: readonly RelationGroup[],
  arch: string,
): RelationGroup[] {
  const result: RelationGroup[] = [];
  for (const group of groups) {
    const kept = group
      .filter((relation) => appliesTo(relation, arch))
      .map(({ architectures: _architectures, profiles: _profiles, ...relation }) => relation);
    if (kept.length > 0) result.push(kept);
  }
  return result;
}

/**
 * Parses a Provides field: no alternatives, and only `(= version)` constraints. With an
 * architecture, entries restricted to other architectures are left out.
 */
export function parseProvides(text: string, arch?: string): ProvidedPackage[] {
  const parsed = parseRelations(text, 'Provides');
  const groups = arch === undefined ? parsed : relationsForArchitecture(parsed, arch);
  return groups.map((group) => {
    const [relation] = group;
    if (relation === undefined || group.length > 1) {
      throw relationError('Provides', formatRelationGroup(group), 'alternatives are not allowed');
    }
    if (relation.constraint === undefined) return { name: relation.name };
    if (relation.constraint.op !== '=') {
      throw relationError('Provides', formatRelation(relation), 'only (= version) is allowed');
    }
    return { name: relation.name, version: relation.constraint.version };
  });
}

/** Writes a relation back in canonical spacing, e.g. `libc6 (>= 2.36) [amd64]`. */
export function formatRelation(relation: Relation): string {
  let text = relation.name;
  if (relation.archQualifier !== undefined) text += `:${relation.archQualifier}`;
  if (relation.constraint !== undefined)
    text += ` (${relation.constraint.op} ${relation.constraint.version})`;
  if (relation.architectures !== undefined) {
    text += ` [${relation.architectures.map((r) => `${r.negated ? '!' : ''}${r.arch}`).join(' ')}]`;
  }
  for (const list of relation.profiles ?? []) {
    text += ` <${list.map((term) => `${term.negated ? '!' : ''}${term.profile}`).join(' ')}>`;
  }
  return text;
}

export function formatRelationGroup(group: readonly Relation[]): string {
  return group.map(formatRelation).join(' | ');
}

/** Writes a whole field value, e.g. for a generated package's Depends. */
export function formatRelations(groups: readonly RelationGroup[]): string {
  return groups.map(formatRelationGroup).join(', ');
}
