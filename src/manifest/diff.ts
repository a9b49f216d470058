import { compareDebianVersions } from '../packages/debian/version.js';
import type { Manifest, TreeFile } from './schema.js';

export interface PackagePin {
  name: string;
  version: string;
}

export interface PackageChange {
  name: string;
  from: string;
  to: string;
}

export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'modified';
}

/** What changes between two manifests (the package-set model that plan builds on). */
export interface ManifestDiff {
  system: { from: string; to: string };
  added: PackagePin[];
  removed: PackagePin[];
  upgraded: PackageChange[];
  downgraded: PackageChange[];
  /** Declared files that differ; a changed `source` file's bytes are not visible here. */
  filesChanged: FileChange[];
}

/**
 * Compares the package sets and files of `from` and `to`. Versions that dpkg considers equal
 * (e.g. `0:1.0` and `1.0`) are no change. Lists are sorted by name or path.
 */
export function diffManifests(from: Manifest, to: Manifest): ManifestDiff {
  const diff: ManifestDiff = {
    system: { from: from.system.version, to: to.system.version },
    added: [],
    removed: [],
    upgraded: [],
    downgraded: [],
    filesChanged: diffFiles(from.files, to.files),
  };
  const names = new Set([...Object.keys(from.packages), ...Object.keys(to.packages)]);
  for (const name of [...names].sort()) {
    const before = from.packages[name];
    const after = to.packages[name];
    if (before === undefined && after !== undefined) diff.added.push({ name, version: after });
    else if (after === undefined && before !== undefined)
      diff.removed.push({ name, version: before });
    else if (before !== undefined && after !== undefined) {
      const order = compareDebianVersions(before, after);
      if (order < 0) diff.upgraded.push({ name, from: before, to: after });
      if (order > 0) diff.downgraded.push({ name, from: before, to: after });
    }
  }
  return diff;
}

/** True when the two manifests install the same packages and files. */
export function isEmptyDiff(diff: ManifestDiff): boolean {
  return (
    diff.added.length === 0 &&
    diff.removed.length === 0 &&
    diff.upgraded.length === 0 &&
    diff.downgraded.length === 0 &&
    diff.filesChanged.length === 0
  );
}

function diffFiles(from: readonly TreeFile[], to: readonly TreeFile[]): FileChange[] {
  const before = new Map(from.map((file) => [file.path, file]));
  const after = new Map(to.map((file) => [file.path, file]));
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes: FileChange[] = [];
  for (const path of paths) {
    const a = before.get(path);
    const b = after.get(path);
    if (a === undefined) changes.push({ path, change: 'added' });
    else if (b === undefined) changes.push({ path, change: 'removed' });
    else if (!sameFile(a, b)) changes.push({ path, change: 'modified' });
  }
  return changes;
}

function sameFile(a: TreeFile, b: TreeFile): boolean {
  return (
    a.content === b.content &&
    a.source === b.source &&
    Number.parseInt(a.mode, 8) === Number.parseInt(b.mode, 8)
  );
}
