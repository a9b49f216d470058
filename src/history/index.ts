import path from 'node:path';
import semver from 'semver';
import type { Tag } from '../cvmfs/history.js';
import { UcvmError } from '../errors.js';
import { Channel } from '../manifest/schema.js';
import { decodeProvenance, type Provenance } from '../reconcile/provenance.js';
import { versionOfTag } from '../reconcile/plan.js';
import { loadChannelManifest } from '../template/channel.js';
import { versionCommits, type VersionCommit } from './git.js';
import {
  channelRepositorySettings,
  readChannelRepository,
  type ChannelRepository,
} from './repository.js';

export type { VersionCommit } from './git.js';

/** A version's tag as the channel's repository holds it. */
export interface PublishedVersion {
  tag: string;
  rootHash: string;
  revision: number;
  /** When it was published or promoted into this repository: the provenance's time, else the catalog's. */
  publishedAt: string;
  /** The tagged root catalog's `last_modified` (seconds since the epoch). */
  timestamp: number;
  /** The provenance the tag's description carries, if it is one ucvm wrote. */
  provenance?: Provenance;
  /** The raw description, when it is not a provenance record. */
  description?: string;
}

/** One version of a channel, from git and from the repository. */
export interface VersionHistory {
  version: string;
  /** `<system.name>-<version>`. */
  tag: string;
  /** The commit that first set `system.version` to this version (undefined: not in git history). */
  commit?: VersionCommit;
  /** Every commit that set it, newest first (a revert sets an older version again). */
  commits: VersionCommit[];
  /** Undefined: the repository does not hold this version. */
  published?: PublishedVersion;
  /** The rolling tag points at this version's snapshot now. */
  rolling: boolean;
  /** For a promoted version: the repository and tag it was copied from. */
  promotedFrom?: { repository: string; tag: string };
  /** manifests/<channel>.yaml asks for this version now (the working tree). */
  desired: boolean;
}

export interface ChannelHistory {
  channel: string;
  system: string;
  repository: Omit<ChannelRepository, 'tags'> & {
    /** Root catalog the rolling tag points at now, if it exists. */
    rollingTarget?: string;
  };
  /** Newest version first. */
  versions: VersionHistory[];
  /** What could not be told (no git, a shallow clone, a rolling tag moved by hand). */
  warnings: string[];
}

export interface HistoryOptions {
  /** Root of the git repository holding manifests/ and pipeline/. */
  root: string;
  channel: string;
  /** Read the repository through its `url` rather than its storage directory. */
  remote?: boolean;
}

function checkChannel(channel: string): Channel {
  const parsed = Channel.safeParse(channel);
  if (!parsed.success)
    throw new UcvmError('USAGE', `unknown channel ${JSON.stringify(channel)}`, {
      details: `Channels: ${Channel.options.join(', ')}.`,
    });
  return parsed.data;
}

function publishedAt(tag: Tag, provenance: Provenance | undefined): string {
  const at = provenance === undefined ? Number.NaN : Date.parse(provenance.at);
  return new Date(Number.isNaN(at) ? tag.timestamp * 1000 : at).toISOString();
}

/** Newest first: semantic versions by precedence, anything else after them, by text. */
function compareNewestFirst(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  if (va !== null && vb !== null) return semver.rcompare(va, vb);
  if (va !== null) return -1;
  if (vb !== null) return 1;
  return a < b ? 1 : a > b ? -1 : 0;
}

/**
 * Merges what git says (the commits that set each version) with what the repository holds (its
 * version tags, their provenance, the rolling tag). Pure.
 */
export function mergeHistory(input: {
  channel: string;
  system: string;
  desiredVersion: string;
  commits: readonly VersionCommit[];
  repository: ChannelRepository;
  warnings?: readonly string[];
}): ChannelHistory {
  const { repository } = input;
  const warnings = [...(input.warnings ?? [])];
  const names = [input.system, ...input.commits.map((commit) => commit.name)];
  const entries = new Map<string, VersionHistory>();
  const entry = (name: string, version: string): VersionHistory => {
    const tag = `${name}-${version}`;
    let found = entries.get(tag);
    if (found === undefined) {
      found = {
        version,
        tag,
        commits: [],
        rolling: false,
        desired: name === input.system && version === input.desiredVersion,
      };
      entries.set(tag, found);
    }
    return found;
  };
  entry(input.system, input.desiredVersion);
  for (const commit of input.commits) {
    const found = entry(commit.name, commit.version);
    found.commits.push(commit);
    // git log lists newest first: the last one seen is the commit that introduced the version.
    found.commit = commit;
  }
  const rolling = repository.tags.find((tag) => tag.name === repository.rollingTag);
  for (const tag of repository.tags) {
    if (tag.name === repository.rollingTag) continue;
    let version: string | undefined;
    let name: string | undefined;
    for (const candidate of new Set(names)) {
      version = versionOfTag(candidate, tag.name);
      name = candidate;
      if (version !== undefined) break;
    }
    if (version === undefined || name === undefined) continue;
    const found = entry(name, version);
    const provenance = decodeProvenance(tag.description);
    found.published = {
      tag: tag.name,
      rootHash: tag.hashHex,
      revision: tag.revision,
      publishedAt: publishedAt(tag, provenance),
      timestamp: tag.timestamp,
      ...(provenance === undefined
        ? tag.description === ''
          ? {}
          : { description: tag.description }
        : { provenance }),
    };
    if (provenance?.from !== undefined) found.promotedFrom = provenance.from;
    if (rolling !== undefined && rolling.hashHex === tag.hashHex) found.rolling = true;
  }
  const versions = [...entries.values()].sort(
    (a, b) => compareNewestFirst(a.version, b.version) || (a.tag < b.tag ? -1 : 1),
  );
  const published = versions.filter((version) => version.published !== undefined);
  if (rolling === undefined && published.length > 0)
    warnings.push(`${repository.fqrn} has no rolling tag ${repository.rollingTag}`);
  if (rolling !== undefined && !versions.some((version) => version.rolling))
    warnings.push(
      `the rolling tag ${repository.rollingTag} of ${repository.fqrn} points at ${rolling.hashHex}, which no version tag names (moved by hand?)`,
    );
  return {
    channel: input.channel,
    system: input.system,
    repository: {
      fqrn: repository.fqrn,
      location: repository.location,
      rollingTag: repository.rollingTag,
      exists: repository.exists,
      ...(rolling !== undefined && { rollingTarget: rolling.hashHex }),
    },
    versions,
    warnings,
  };
}

/**
 * `ucvm history`: the versions of a channel, newest first, with the git commit that set each
 * (author, date) and, for those its repository holds, publish time, provenance and whether the
 * rolling tag points at it now. Reads the repository with its public key only.
 */
export async function channelHistory(options: HistoryOptions): Promise<ChannelHistory> {
  const channel = checkChannel(options.channel);
  const root = path.resolve(options.root);
  const manifest = await loadChannelManifest(root, channel);
  const settings = await channelRepositorySettings(root, channel);
  const git = await versionCommits(root, `manifests/${channel}.yaml`);
  const repository = await readChannelRepository(settings, root, options.remote === true);
  return mergeHistory({
    channel,
    system: manifest.system.name,
    desiredVersion: manifest.system.version,
    commits: git.commits,
    repository,
    warnings: git.warnings,
  });
}
