import semver from 'semver';
import { passedChecks, type CheckRecords } from '../checks/record.js';
import type { ManifestDiff } from '../manifest/diff.js';
import type { Channel } from '../manifest/schema.js';
import type { SnapshotDiff } from '../reader/diff.js';
import type { Gate } from '../pipeline/schema.js';
import { durationSeconds } from './duration.js';
import { identityDifferences, type IdentityField, type VersionIdentity } from './identity.js';
import type { Provenance } from './provenance.js';

/** One tag of a repository as plan sees it (read, verified, from its history). */
export interface TagState {
  name: string;
  rootHash: string;
  /** Unix seconds the tag was published. */
  timestamp: number;
  /** The identity recorded with the tag, if it carries ucvm provenance. */
  identity: VersionIdentity | undefined;
  /** Where it came from, if it carries ucvm provenance. */
  provenance?: Provenance;
  /** Unix seconds it arrived in this repository (published or promoted), if it differs from `timestamp`. */
  arrivedAt?: number;
}

/** The actual state of one channel's repository. */
export interface RepositoryState {
  fqrn: string;
  rollingTag: string;
  tags: readonly TagState[];
  /** Check results recorded in the repository, by tag. */
  checks?: CheckRecords;
}

/** The desired state of one channel, from its manifest in git. */
export interface DesiredVersion {
  channel: Channel;
  /** The meta package's name (`cernvm-system`). */
  system: string;
  version: string;
  identity: VersionIdentity;
  hotfix: boolean;
  /** `rollback: { to }`: the rolling tag goes back to this published version. */
  rollbackTo?: string;
}

export type Action =
  | { kind: 'none' }
  | { kind: 'publish' }
  /** `rootHash` is `undefined` when the source gets the version earlier in this same run. */
  | { kind: 'promote'; from: Channel; fromRepository: string; rootHash: string | undefined }
  | { kind: 'rollback'; rootHash: string; from: string | undefined }
  /** The tag exists (a promotion or publish was cut short): only the rolling tag must move. */
  | { kind: 'move'; rootHash: string; from: string | undefined };

export type RefusalCode =
  'VERSION_CONFLICT' | 'VERSION_UNKNOWN' | 'HOTFIX_REQUIRED' | 'HOTFIX_INVALID' | 'GATE_NOT_MET';

export interface Refusal {
  code: RefusalCode;
  message: string;
  /** For VERSION_CONFLICT: the identity fields that differ. */
  fields?: IdentityField[];
  /** For GATE_NOT_MET: when the soak time is over (ISO 8601), and the checks still missing. */
  until?: string;
  missingChecks?: string[];
}

export interface ChannelPlan {
  channel: Channel;
  repository: string;
  tag: string;
  version: string;
  /** The version the rolling tag points at now (by tag name), if any. */
  currentVersion: string | undefined;
  action: Action;
  refusals: Refusal[];
  /** What the action changes, where it can be told (filled in by planPipeline). */
  changes?: ChannelChanges;
}

export interface ChannelChanges {
  /** Against the manifest of the version the channel runs now. */
  packages?: ManifestDiff;
  /** Why there is no package diff. */
  packagesUnavailable?: string;
  /** The file-level summary between the snapshot running now and the one the action brings. */
  files?: SnapshotDiff['summary'];
}

export interface PlanInput {
  /** Channels in promotion order (first: where versions are born; last: production). */
  promotion: readonly Channel[];
  desired: ReadonlyMap<Channel, DesiredVersion>;
  actual: ReadonlyMap<Channel, RepositoryState>;
  /** Promotion gates by target channel. */
  gates?: Partial<Record<Channel, Gate>>;
  now?: Date;
}

export function snapshotTag(system: string, version: string): string {
  return `${system}-${version}`;
}

/** The version a tag of `system` names, or undefined for other tags. */
export function versionOfTag(system: string, tag: string): string | undefined {
  const prefix = `${system}-`;
  if (!tag.startsWith(prefix)) return undefined;
  const version = tag.slice(prefix.length);
  return semver.valid(version) === null ? undefined : version;
}

function currentVersion(system: string, state: RepositoryState): string | undefined {
  const rolling = state.tags.find((tag) => tag.name === state.rollingTag);
  if (rolling === undefined) return undefined;
  const named = state.tags
    .filter((tag) => tag.rootHash === rolling.rootHash)
    .map((tag) => versionOfTag(system, tag.name))
    .filter((version): version is string => version !== undefined)
    .sort(semver.rcompare);
  return named[0];
}

/**
 * The plan: for each channel, the one action that makes its repository match its manifest.
 * Pure: a value computed from the desired versions and the repositories' states. Channels are
 * planned in promotion order, each seeing what the ones before it will hold after this run
 * (a version published in development can be promoted on in the same run, gates permitting).
 */
export function computePlan(input: PlanInput): ChannelPlan[] {
  const actual = new Map(input.actual);
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  return input.promotion.flatMap((channel, index) => {
    const desired = input.desired.get(channel);
    const state = actual.get(channel);
    if (desired === undefined || state === undefined) return [];
    const plan = planChannel({ ...input, actual }, index, desired, state, now);
    if (
      plan.refusals.length === 0 &&
      (plan.action.kind === 'publish' || plan.action.kind === 'promote')
    )
      actual.set(channel, {
        ...state,
        tags: [
          ...state.tags,
          { name: plan.tag, rootHash: PENDING, timestamp: now, identity: desired.identity },
        ],
      });
    return [plan];
  });
}

/** The root hash of a snapshot this run is still to make. */
const PENDING = '';

function planChannel(
  input: PlanInput,
  index: number,
  desired: DesiredVersion,
  actual: RepositoryState,
  now: number,
): ChannelPlan {
  const channel = desired.channel;
  const tag = snapshotTag(desired.system, desired.version);
  const refusals = conflicts(input, desired, tag);
  const current = currentVersion(desired.system, actual);
  const plan: ChannelPlan = {
    channel,
    repository: actual.fqrn,
    tag,
    version: desired.version,
    currentVersion: current,
    action: { kind: 'none' },
    refusals,
  };
  const present = actual.tags.find((candidate) => candidate.name === tag);
  const rolling = actual.tags.find((candidate) => candidate.name === actual.rollingTag);
  if (desired.rollbackTo !== undefined) return planRollbackMarker(plan, desired, actual, rolling);
  if (present !== undefined) {
    if (rolling?.rootHash !== present.rootHash) {
      const lower = current !== undefined && semver.lt(desired.version, current);
      plan.action = {
        kind: lower ? 'rollback' : 'move',
        rootHash: present.rootHash,
        from: current,
      };
    }
    return plan;
  }
  if (current !== undefined && semver.lt(desired.version, current)) {
    refusals.push({
      code: 'VERSION_UNKNOWN',
      message: `${actual.fqrn} has no tag ${tag}: a rollback goes only to a version the repository holds (it runs ${current})`,
    });
    return plan;
  }
  const previous = index > 0 ? input.promotion[index - 1] : undefined;
  const source = previous === undefined ? undefined : input.actual.get(previous);
  const inSource = source?.tags.find((candidate) => candidate.name === tag);
  if (previous !== undefined && source !== undefined && inSource !== undefined) {
    plan.action = {
      kind: 'promote',
      from: previous,
      fromRepository: source.fqrn,
      rootHash: inSource.rootHash === PENDING ? undefined : inSource.rootHash,
    };
    const gate = input.gates?.[channel];
    if (gate !== undefined) {
      const problem = gateProblem(gate, previous, source, inSource, now);
      if (problem !== undefined) refusals.push(problem);
    }
    return plan;
  }
  // The first channel is where versions are born; a repository that holds no version of the
  // system yet is being seeded (a new pipeline), so its first version is published there too.
  if (
    index === 0 ||
    !actual.tags.some((candidate) => versionOfTag(desired.system, candidate.name))
  ) {
    plan.action = { kind: 'publish' };
    return plan;
  }
  const problem = hotfixProblem(input, index, desired, current);
  if (problem !== undefined) refusals.push(problem);
  else plan.action = { kind: 'publish' };
  return plan;
}

/**
 * A manifest marked `rollback: { to }` keeps its version but points the rolling tag at an
 * older published one (the version it names must be in the repository, as must `to`).
 */
function planRollbackMarker(
  plan: ChannelPlan,
  desired: DesiredVersion,
  actual: RepositoryState,
  rolling: TagState | undefined,
): ChannelPlan {
  const target = snapshotTag(desired.system, desired.rollbackTo!);
  const present = actual.tags.find((candidate) => candidate.name === target);
  plan.tag = target;
  if (present === undefined) {
    plan.refusals.push({
      code: 'VERSION_UNKNOWN',
      message: `${actual.fqrn} has no tag ${target}: rollback.to names only a version the repository holds`,
    });
    return plan;
  }
  if (rolling?.rootHash !== present.rootHash)
    plan.action = { kind: 'rollback', rootHash: present.rootHash, from: plan.currentVersion };
  return plan;
}

/** What a promotion into a channel still lacks: soak time in the channel before, and checks. */
function gateProblem(
  gate: Gate,
  previous: Channel,
  source: RepositoryState,
  tag: TagState,
  now: number,
): Refusal | undefined {
  const problems: string[] = [];
  const refusal: Refusal = { code: 'GATE_NOT_MET', message: '' };
  if (gate.soak !== undefined) {
    const arrived = tag.arrivedAt ?? tag.timestamp;
    const until = arrived + durationSeconds(gate.soak);
    if (until > now) {
      refusal.until = new Date(until * 1000).toISOString();
      problems.push(
        `it must soak ${gate.soak} in ${previous} (there since ${new Date(arrived * 1000).toISOString()}): not before ${refusal.until}`,
      );
    }
  }
  const passed =
    tag.rootHash === PENDING
      ? new Set<string>()
      : passedChecks(source.checks ?? {}, tag.name, tag.rootHash);
  const missing = gate.checks.filter((check) => !passed.has(check));
  if (missing.length > 0) {
    refusal.missingChecks = missing;
    problems.push(`checks not passed in ${previous} (${source.fqrn}): ${missing.join(', ')}`);
  }
  if (problems.length === 0) return undefined;
  refusal.message = `${tag.name} cannot enter yet: ${problems.join('; ')}`;
  return refusal;
}

/** The same version with another identity anywhere in the pipeline. */
function conflicts(input: PlanInput, desired: DesiredVersion, tag: string): Refusal[] {
  const refusals: Refusal[] = [];
  for (const [, state] of input.actual) {
    const existing = state.tags.find((candidate) => candidate.name === tag);
    if (existing?.identity === undefined) continue;
    const fields = identityDifferences(existing.identity, desired.identity);
    if (fields.length > 0)
      refusals.push({
        code: 'VERSION_CONFLICT',
        message: `${state.fqrn} holds ${tag} with another content (${fields.join(', ')} differ): a published version never changes; give this one a new version`,
        fields,
      });
  }
  return refusals;
}

/**
 * Only the last channel takes versions that skipped the channels before it, and only as a
 * hotfix: marked so, and a patch-level bump of what it runs.
 */
function hotfixProblem(
  input: PlanInput,
  index: number,
  desired: DesiredVersion,
  current: string | undefined,
): Refusal | undefined {
  const previous = input.promotion[index - 1]!;
  const last = index === input.promotion.length - 1;
  if (!last || !desired.hotfix)
    return {
      code: 'HOTFIX_REQUIRED',
      message: `${desired.version} is not in ${previous}: versions reach ${desired.channel} by promotion from ${previous}${last ? ', or as a hotfix (`hotfix: { reason: … }` in the manifest, a patch-level bump)' : ''}`,
    };
  if (current === undefined)
    return {
      code: 'HOTFIX_INVALID',
      message: `the rolling tag of ${desired.channel} points at no version: a hotfix is a patch-level bump of the one it runs`,
    };
  const bumped = semver.inc(current, 'patch');
  if (
    semver.major(desired.version) !== semver.major(current) ||
    semver.minor(desired.version) !== semver.minor(current) ||
    !semver.gt(desired.version, current)
  )
    return {
      code: 'HOTFIX_INVALID',
      message: `a hotfix must be a patch-level bump of ${current} (e.g. ${bumped}), not ${desired.version}`,
    };
  return undefined;
}

/**
 * What is off in a repository without a manifest asking for it: a rolling tag that points at
 * no version (moved by hand to an arbitrary revision), or no rolling tag at all. Reported,
 * never "fixed".
 */
export function repositoryDrift(system: string, state: RepositoryState): string[] {
  const rolling = state.tags.find((tag) => tag.name === state.rollingTag);
  const versions = state.tags.filter((tag) => versionOfTag(system, tag.name) !== undefined);
  if (rolling === undefined)
    return versions.length === 0
      ? []
      : [`${state.fqrn}: there is no rolling tag ${state.rollingTag}`];
  if (!versions.some((tag) => tag.rootHash === rolling.rootHash))
    return [
      `${state.fqrn}: the rolling tag ${state.rollingTag} points at ${rolling.rootHash}, which no ${system}-<version> tag names (moved by hand?)`,
    ];
  return [];
}
