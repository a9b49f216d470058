import { chmod, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { run } from '../exec/index.js';
import type { Manifest } from '../manifest/index.js';
import { ControlParagraph, formatControl, isValidDebianVersion } from '../packages/debian/index.js';
import { sortedBy } from '../reproducible/ordering.js';

/** The generated package that pins the whole OS (μCernVM's `cernvm-system` RPM, as a .deb). */
export interface MetaPackage {
  /** Path of the built .deb. */
  path: string;
  name: string;
  /** The Debian version (`system.version` with a pre-release `-` turned into `~`). */
  version: string;
  architecture: 'all';
  /** The control paragraph written into the package. */
  control: ControlParagraph;
}

export interface MetaPackageOptions {
  manifest: Manifest;
  /** Directory to write `<name>_<version>_all.deb` into. */
  outDir: string;
  /** Every mtime in the package and its ar/tar headers (seconds since 1970). */
  sourceDateEpoch: number;
}

/**
 * The Debian version of a release: semver pre-releases sort before the release
 * (5.0.0-rc.1 < 5.0.0), Debian's `-` would sort them after it, so the first `-` becomes `~`.
 */
export function debianVersionOfRelease(release: string): string {
  const version = release.replace('-', '~');
  if (!isValidDebianVersion(version)) {
    throw new UcvmError(
      'MANIFEST_INVALID',
      `system.version ${release} is not usable as a Debian version`,
      {
        details: 'Use a semantic version such as 5.1.0 or 5.1.0-rc.1.',
      },
    );
  }
  return version;
}

/** `/.installed_<name>-<version>`: names the installed system at the root of the tree. */
export function installedMarkerPath(system: Manifest['system']): string {
  return `/.installed_${system.name}-${system.version}`;
}

/** The content of the marker file: `CernVM system <version>`, then the description if any. */
export function installedMarkerContent(system: Manifest['system']): string {
  const description = system.description?.trim();
  return `CernVM system ${system.version}\n${description === undefined ? '' : `${description}\n`}`;
}

/** The control paragraph: one `Depends` entry `name (= version)` per pinned package, sorted. */
export function metaPackageControl(manifest: Manifest): ControlParagraph {
  const { system } = manifest;
  const pins = sortedBy(Object.entries(manifest.packages), ([name]) => name);
  const summary = system.description?.trim() ?? `CernVM system ${system.version}`;
  return new ControlParagraph([
    ['Package', system.name],
    ['Version', debianVersionOfRelease(system.version)],
    ['Architecture', 'all'],
    ['Maintainer', 'ucvm <ucvm@localhost>'],
    ['Section', 'metapackages'],
    ['Priority', 'optional'],
    ['Depends', pins.map(([name, version]) => `${name} (= ${version})`).join(', ')],
    [
      'Description',
      `${summary}\nThis package pins every package of the operating system at an exact version\n` +
        `(${pins.length} packages), so that the system's own dpkg database records which\n` +
        `system it is. It installs ${installedMarkerPath(system)}.`,
    ],
  ]);
}

/**
 * Builds the meta package with `dpkg-deb --build --root-owner-group`. Reproducible: every
 * mtime is `sourceDateEpoch` (dpkg-deb also takes its ar and tar header times from
 * SOURCE_DATE_EPOCH), modes are set explicitly, dpkg-deb sorts the members and xz has no
 * timestamps, so one manifest always gives the same bytes.
 */
export async function buildMetaPackage(options: MetaPackageOptions): Promise<MetaPackage> {
  const { manifest, outDir, sourceDateEpoch } = options;
  const control = metaPackageControl(manifest);
  const name = manifest.system.name;
  const version = control.get('Version') ?? '';
  await mkdir(outDir, { recursive: true });
  const root = await mkdtemp(path.join(outDir, '.meta-'));
  try {
    const debian = path.join(root, 'DEBIAN');
    const controlFile = path.join(debian, 'control');
    const marker = path.join(root, installedMarkerPath(manifest.system));
    await mkdir(debian);
    await writeFile(controlFile, formatControl(control));
    await writeFile(marker, installedMarkerContent(manifest.system));
    // Modes and times are set explicitly: the umask and the clock must not reach the package.
    for (const [entry, mode] of [
      [controlFile, 0o644],
      [marker, 0o644],
      [debian, 0o755],
      [root, 0o755],
    ] as const) {
      await chmod(entry, mode);
      await utimes(entry, sourceDateEpoch, sourceDateEpoch);
    }
    const out = path.join(outDir, `${name}_${version.replace(/^\d+:/, '')}_all.deb`);
    await run('dpkg-deb', ['--build', '--root-owner-group', '-Zxz', '-z6', root, out], {
      env: { SOURCE_DATE_EPOCH: String(sourceDateEpoch), LC_ALL: 'C.UTF-8', TZ: 'UTC' },
    });
    return { path: out, name, version, architecture: 'all', control };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
