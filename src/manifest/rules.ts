import semver from 'semver';
import { diffManifests, isEmptyDiff } from './diff.js';
import type { FieldIssue } from './issue.js';
import type { Manifest, ManifestDraft } from './schema.js';

/** What the channel has published, for the rules that compare with it. All optional. */
export interface ManifestContext {
  /** The version the channel's rolling tag serves now (its last publication). */
  previousVersion?: string;
  /** The manifest of that version, when known; enables the package-set checks of hotfixes. */
  previousManifest?: Manifest;
  /** Every version already published in the channel's repository. */
  publishedVersions?: readonly string[];
}

function error(path: FieldIssue['path'], message: string): FieldIssue {
  return { severity: 'error', path, message };
}

/** Rules that need only the manifest itself (run after the schema accepted it). */
export function checkManifestConsistency(manifest: Manifest): FieldIssue[] {
  return [...checkDraftConsistency(manifest), ...checkInstallPinned(manifest)];
}

/** The rules of checkManifestConsistency that hold before `ucvm lock` has pinned the roots. */
export function checkDraftConsistency(manifest: ManifestDraft): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const { name } = manifest.system;
  const packages = manifest.packages ?? {};
  if (Object.hasOwn(packages, name)) {
    issues.push(
      error(['packages', name], `the meta package ${name} cannot pin itself; it is system.name`),
    );
  }
  const roots = new Set<string>();
  (manifest.install ?? []).forEach((root, index) => {
    if (roots.has(root)) issues.push(error(['install', index], `${root} is listed twice`));
    roots.add(root);
  });
  const seen = new Set<string>();
  manifest.files.forEach((file, index) => {
    if (seen.has(file.path))
      issues.push(error(['files', index, 'path'], `${file.path} is declared twice`));
    seen.add(file.path);
  });
  const { rollback, hotfix } = manifest;
  (hotfix?.upgrades ?? []).forEach((name, index) => {
    if (!Object.hasOwn(manifest.packages ?? {}, name))
      issues.push(error(['hotfix', 'upgrades', index], `${name} is not pinned under packages`));
  });
  if (rollback !== undefined) {
    if (hotfix !== undefined) {
      issues.push(error(['rollback'], 'a manifest is either a hotfix or a rollback, not both'));
    }
    if (!semver.lt(rollback.to, manifest.system.version)) {
      issues.push(
        error(
          ['rollback', 'to'],
          `a rollback goes to a version lower than ${manifest.system.version}, got ${rollback.to}`,
        ),
      );
    }
  }
  return issues;
}

/** Every root in `install` is pinned under `packages`: the lock is complete. */
function checkInstallPinned(manifest: Manifest): FieldIssue[] {
  const issues: FieldIssue[] = [];
  (manifest.install ?? []).forEach((name, index) => {
    if (Object.hasOwn(manifest.packages, name)) return;
    issues.push(
      error(
        ['install', index],
        `${name} is not pinned under packages: run \`ucvm lock ${manifest.channel}\` to pin it and its dependencies`,
      ),
    );
  });
  return issues;
}

/** Rules that compare the manifest with what the channel has already published. */
export function checkManifestAgainstChannel(
  manifest: Manifest,
  context: ManifestContext,
): FieldIssue[] {
  const previous = context.previousVersion ?? context.previousManifest?.system.version;
  return [
    ...checkVersionBump(manifest, previous, context.previousManifest),
    ...checkHotfix(manifest, previous, context),
    ...checkRollbackTarget(manifest, context.publishedVersions),
  ];
}

/** Every rule: consistency plus, when a context is given, the channel rules. */
export function checkManifestRules(
  manifest: Manifest,
  context: ManifestContext = {},
): FieldIssue[] {
  return [...checkManifestConsistency(manifest), ...checkManifestAgainstChannel(manifest, context)];
}

/** Published unchanged: the same version with the same content (re-validating is fine). */
function isUnchanged(
  manifest: Manifest,
  previous: string,
  previousManifest: Manifest | undefined,
): boolean {
  if (!semver.eq(manifest.system.version, previous)) return false;
  return previousManifest === undefined || isEmptyDiff(diffManifests(previousManifest, manifest));
}

function checkVersionBump(
  manifest: Manifest,
  previous: string | undefined,
  previousManifest: Manifest | undefined,
): FieldIssue[] {
  if (previous === undefined || semver.valid(previous) === null) return [];
  const { version } = manifest.system;
  const path = ['system', 'version'];
  if (manifest.rollback !== undefined) {
    // A rollback publishes nothing: it moves the rolling tag, so the version stays.
    if (semver.eq(version, previous)) return [];
    return [
      error(
        path,
        `a rollback publishes no new version: keep system.version at the published ${previous}, got ${version}`,
      ),
    ];
  }
  if (semver.gt(version, previous) || isUnchanged(manifest, previous, previousManifest)) return [];
  if (semver.eq(version, previous)) {
    return [
      error(
        path,
        `${version} is already published with other content: bump system.version above ${previous}`,
      ),
    ];
  }
  return [error(path, `must be greater than the published ${previous}, got ${version}`)];
}

function checkHotfix(
  manifest: Manifest,
  previous: string | undefined,
  context: ManifestContext,
): FieldIssue[] {
  if (manifest.hotfix === undefined) return [];
  const { previousManifest } = context;
  // "Nothing published" only when the caller knows it; no context means nothing to compare.
  if (previous === undefined && context.publishedVersions?.length === 0) {
    return [
      error(['hotfix'], 'a hotfix patches a published version, but the channel has published none'),
    ];
  }
  if (previous === undefined || semver.valid(previous) === null) return [];
  if (isUnchanged(manifest, previous, previousManifest)) return [];
  const { version } = manifest.system;
  const issues: FieldIssue[] = [];
  if (semver.diff(previous, version) !== 'patch' || !semver.gt(version, previous)) {
    const next = semver.inc(previous, 'patch') ?? 'a patch release';
    issues.push(
      error(
        ['system', 'version'],
        `a hotfix bumps only the patch level of ${previous} (e.g. ${next}), got ${version}`,
      ),
    );
  }
  if (previousManifest !== undefined)
    issues.push(...checkHotfixPackageSet(manifest, previousManifest));
  return issues;
}

/** A hotfix changes package versions only: the same names, the same base (ucernvm.md 4.5). */
function checkHotfixPackageSet(manifest: Manifest, previousManifest: Manifest): FieldIssue[] {
  const diff = diffManifests(previousManifest, manifest);
  const issues = diff.added.map((pin) =>
    error(['packages', pin.name], `a hotfix cannot add packages; ${pin.name} is new`),
  );
  if (diff.removed.length > 0) {
    const names = diff.removed.map((pin) => pin.name).join(', ');
    issues.push(error(['packages'], `a hotfix cannot remove packages; removed: ${names}`));
  }
  const before = previousManifest.base;
  const after = manifest.base;
  if (
    before.distribution !== after.distribution ||
    before.suite !== after.suite ||
    before.architecture !== after.architecture
  ) {
    issues.push(error(['base'], 'a hotfix cannot change the distribution, suite or architecture'));
  }
  return issues;
}

function checkRollbackTarget(
  manifest: Manifest,
  published: readonly string[] | undefined,
): FieldIssue[] {
  const target = manifest.rollback?.to;
  if (target === undefined || published === undefined) return [];
  if (published.some((version) => semver.valid(version) !== null && semver.eq(version, target)))
    return [];
  return [
    error(
      ['rollback', 'to'],
      `${target} was never published in this channel, so the rolling tag cannot point at it`,
    ),
  ];
}
