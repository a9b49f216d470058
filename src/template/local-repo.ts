import { createHash } from 'node:crypto';
import { chmod, constants, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ControlParagraph, formatControl } from '../packages/debian/index.js';
import { sortedBy } from '../reproducible/ordering.js';

/** One verified package file for the private repository. */
export interface LocalPackage {
  name: string;
  version: string;
  architecture: string;
  /** The control fields (an index stanza or the package's own control file). */
  fields: ReadonlyMap<string, string>;
  debPath: string;
  size: number;
  sha256: string;
}

export interface LocalRepo {
  dir: string;
  suite: string;
  /** The apt source line for mmdebstrap: `deb [trusted=yes] copy://<dir> <suite> main`. */
  sourceLine: string;
}

/** Fields that describe a file in some archive; the private repository writes its own. */
const locationFields = new Set(['filename', 'size', 'md5sum', 'sha1', 'sha256', 'sha512']);

function debFileName(pkg: LocalPackage): string {
  // Names and architectures are unique in a closed set; the epoch is dropped as apt does.
  return `${pkg.name}_${pkg.version.replace(/^\d+:/, '')}_${pkg.architecture}.deb`;
}

/** The Packages stanza of one package: its fields, then Filename, Size and SHA256 in the repository. */
export function localStanza(pkg: LocalPackage): ControlParagraph {
  const paragraph = new ControlParagraph(
    [...pkg.fields].filter(([name]) => !locationFields.has(name.toLowerCase())),
  );
  paragraph.set('Filename', `pool/${debFileName(pkg)}`);
  paragraph.set('Size', String(pkg.size));
  paragraph.set('SHA256', pkg.sha256);
  return paragraph;
}

/** The Release text: suite, architecture and the SHA256 of the one Packages file. */
export function localRelease(suite: string, architecture: string, packagesText: string): string {
  const packagesFile = `main/binary-${architecture}/Packages`;
  const digest = createHash('sha256').update(packagesText).digest('hex');
  return [
    'Origin: ucvm',
    'Label: ucvm',
    `Suite: ${suite}`,
    `Codename: ${suite}`,
    `Architectures: ${architecture}`,
    'Components: main',
    'Description: the pinned package set of one ucvm build',
    'SHA256:',
    ` ${digest} ${Buffer.byteLength(packagesText)} ${packagesFile}`,
    '',
  ].join('\n');
}

/**
 * Writes a private apt repository (`dists/<suite>/main/binary-<arch>/Packages`, `pool/`) that
 * holds exactly the given packages, one version each, so apt has no choice to make. It is
 * unsigned and used with `[trusted=yes]`: every file was checked against signed metadata (or
 * the pool's record) before it got here. Package files are symlinked, or copied with `copy`
 * (mmdebstrap's unshare mode reads them as a subordinate uid, which may not see the caches).
 */
export async function writeLocalRepo(
  dir: string,
  packages: readonly LocalPackage[],
  options: { suite: string; architecture: string; copy?: boolean },
): Promise<LocalRepo> {
  const { suite, architecture } = options;
  const pool = path.join(dir, 'pool');
  const indexDir = path.join(dir, 'dists', suite, 'main', `binary-${architecture}`);
  await mkdir(pool, { recursive: true });
  await mkdir(indexDir, { recursive: true });
  // Readable by everyone: in unshare mode apt reads the repository as another uid.
  await chmod(dir, 0o755);
  const sorted = sortedBy(packages, (pkg) => pkg.name);
  for (const pkg of sorted) {
    const target = path.join(pool, debFileName(pkg));
    if (path.resolve(pkg.debPath) === target) continue;
    if (options.copy === true) await copyFile(pkg.debPath, target, constants.COPYFILE_FICLONE);
    else await symlink(path.resolve(pkg.debPath), target);
  }
  const packagesText = sorted.length === 0 ? '' : formatControl(sorted.map(localStanza));
  await writeFile(path.join(indexDir, 'Packages'), packagesText);
  await writeFile(
    path.join(dir, 'dists', suite, 'Release'),
    localRelease(suite, architecture, packagesText),
  );
  return { dir, suite, sourceLine: `deb [trusted=yes] copy://${path.resolve(dir)} ${suite} main` };
}
