/**
 * The ucvm library: what the reconciler, the GitHub Actions and other tools build on.
 * Each concept lives in its own folder; this file only re-exports the public parts.
 */
export { UcvmError, isUcvmError, formatLocation } from './errors.js';
export type { ErrorCode, ErrorLocation } from './errors.js';
export type { Logger, Progress } from './log.js';
export { silentLogger, silentProgress } from './log.js';

// The repository format (pure).
export * as cvmfs from './cvmfs/index.js';

// Writing repositories: the publisher contract and the embedded backend.
export type {
  Publisher,
  PublisherKind,
  PublishRequest,
  PublishResult,
  PublishStats,
  RepoState,
  TagRequest,
  TagResult,
} from './publisher/publisher.js';
export { EmbeddedPublisher, createEmbeddedPublisher } from './publisher/embedded/index.js';
export type { EmbeddedOptions, GcReport } from './publisher/embedded/index.js';

// Reading repositories from a directory or over HTTP, with no keys.
export { openVerifiedRepository } from './reader/open.js';
export type { TrustOptions } from './reader/open.js';
export { Repository } from './reader/repository.js';
export { Snapshot } from './reader/snapshot.js';
export { directorySource, httpSource, openSource } from './reader/source.js';
export type { RepoSource } from './reader/source.js';
export { diffSnapshots } from './reader/diff.js';
export type { SnapshotDiff, PathChange } from './reader/diff.js';
export { verifyRepository } from './reader/verify.js';
export type { VerifyReport } from './reader/verify.js';
export { reachableObjects } from './reader/reachable.js';
export { serveRepositories } from './serve/index.js';

// Keys.
export {
  createKeys,
  keyPaths,
  loadSigningKeys,
  loadMasterKey,
  loadPublicKey,
} from './keys/index.js';

// Manifests, pipeline configuration, packages and the template build.
export * as manifest from './manifest/index.js';
export * as pipeline from './pipeline/index.js';
export * as debian from './packages/debian/index.js';
export type {
  PackageSource,
  PackageIndex,
  PackageRecord,
  PackageRef,
} from './packages/package-source.js';
export { createAptSource } from './packages/apt/index.js';
export { createPool, createFallbackSource } from './packages/pool/index.js';
export { buildTemplate, buildMetaPackage } from './template/index.js';
export { computePlan } from './reconcile/plan.js';
export type { ChannelPlan, DesiredVersion, RepositoryState } from './reconcile/plan.js';
export { versionIdentity, identityDifferences } from './reconcile/identity.js';
export { planPipeline } from './reconcile/load.js';
export { DirectoryStorage } from './storage/directory.js';
export type { RepoStorage } from './storage/storage.js';
