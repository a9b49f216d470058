import type { Tag } from '../cvmfs/history.js';
import type { Progress } from '../log.js';
import type { Repository } from '../reader/repository.js';

export type PublisherKind = 'embedded' | 'cvmfs-server';

export interface PublisherCapabilities {
  /** Garbage collection of unreachable objects. */
  gc: boolean;
  /** The storage is a directory that a static HTTP server can serve. */
  servableDirectory: boolean;
}

/** What a repository looks like now: its newest revision and its named snapshots. */
export interface RepoState {
  fqrn: string;
  revision: number;
  rootHash: string;
  publishedAt: Date;
  whitelistExpiresAt: Date | undefined;
  tags: Tag[];
}

export interface PublishRequest {
  /** Directory whose content becomes the new revision. */
  tree: string;
  /** Named snapshot to create; named tags are immutable. Without one, an automatic `generic-…` tag is made. */
  tag?: string;
  /** Free text stored as the tag's description. */
  description?: string;
  /**
   * Rolling tags (recorded at init, e.g. HEAD) to point at the new revision as well, in the
   * same signed commit: clients never see the snapshot published without them.
   */
  rollingTags?: readonly string[];
  /** Compute everything, write nothing. */
  dryRun?: boolean;
}

export interface PublishStats {
  files: number;
  bytes: number;
  unchangedFiles: number;
  knownContent: number;
  objectsWritten: number;
  bytesWritten: number;
  catalogsWritten: number;
  catalogsReused: number;
  /** Of the catalogs written, how many were patched from their previous version (changed rows only). */
  catalogsPatched: number;
  seconds: number;
  /** Seconds per step of storing the contents, when the publisher was asked to profile. */
  profile?: Record<string, number>;
}

export interface PublishResult {
  fqrn: string;
  revision: number;
  rootHash: string;
  tag: string;
  /** True if the tag already held exactly this content: nothing was written. */
  unchanged: boolean;
  dryRun: boolean;
  stats: PublishStats;
}

export interface TagRequest {
  name: string;
  /** A tag name or a root catalog hash already in the repository. */
  target: string;
  description?: string;
}

export interface TagResult {
  name: string;
  rootHash: string;
  revision: number;
  /** The root hash the tag pointed to before, if it existed. */
  previousRootHash: string | undefined;
  unchanged: boolean;
}

export interface ImportRequest {
  /** The repository to copy from, opened (and its signatures verified) by the caller. */
  source: Repository;
  /** The snapshot's root catalog in the source. */
  rootHash: string;
  /** The named tag it gets in this repository (immutable, as a published one). */
  tag: string;
  description?: string;
  /** Rolling tags to point at it in the same signed commit. */
  rollingTags?: readonly string[];
  /** Walk and count what would be copied, write nothing. */
  dryRun?: boolean;
}

export interface ImportStats {
  catalogs: number;
  catalogsCopied: number;
  /** Content objects the snapshot names (whole files and chunks). */
  objects: number;
  objectsCopied: number;
  /** Stored (compressed) bytes transferred, catalogs included. */
  bytesCopied: number;
  /** Of those, the catalogs' bytes. */
  catalogBytesCopied: number;
  seconds: number;
}

export interface ImportResult {
  fqrn: string;
  revision: number;
  rootHash: string;
  tag: string;
  /** The tag (and rolling tags) held this snapshot already: nothing was signed. */
  unchanged: boolean;
  dryRun: boolean;
  stats: ImportStats;
}

export interface CheckRequest {
  /** The tag checked; the result is bound to the root catalog it holds now. */
  tag: string;
  /** e.g. `verify`, `boot`. */
  name: string;
  passed: boolean;
  details?: string;
}

/**
 * A writer of one CernVM-FS repository. The embedded backend writes a directory itself;
 * a `cvmfs_server` backend or an object store can implement the same contract.
 */
export interface Publisher {
  readonly kind: PublisherKind;
  readonly fqrn: string;
  readonly capabilities: PublisherCapabilities;
  /** The newest revision, its tags and the whitelist expiry. */
  state(): Promise<RepoState>;
  /** Publishes a tree as a new signed revision, tagged; refuses to change an existing named tag. */
  publish(request: PublishRequest, progress?: Progress): Promise<PublishResult>;
  /** Points a tag at an existing root catalog without writing any catalog (promotion, rollback). */
  tag(request: TagRequest): Promise<TagResult>;
  /**
   * Copies a snapshot of another repository in (promotion): only the objects this one lacks,
   * each checked against its hash; the root catalog is reused unchanged.
   */
  importSnapshot(request: ImportRequest, progress?: Progress): Promise<ImportResult>;
  /** Records a check's result for a tag in the signed tag database (promotion gates read it). */
  recordCheck(request: CheckRequest): Promise<void>;
  /** Removes a tag (never `trunk` or `trunk-previous`). */
  removeTag(name: string): Promise<void>;
}
