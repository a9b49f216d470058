import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { run } from '../exec/index.js';
import { compareDebianVersions } from '../packages/debian/index.js';
import { sortedBy } from '../reproducible/ordering.js';
import { lstatInTree, readDirInTree, readFileInTree } from '../reproducible/tree-paths.js';

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
  /** dpkg's abbreviated status, `ii ` when fully installed. */
  status: string;
}

const dpkgDir = '/var/lib/dpkg';

/**
 * A copy of the tree's dpkg database as far as dpkg-query reads it (status, the update journal,
 * the architectures), each file read inside the tree: dpkg-query itself would follow a link
 * such as /var/lib/dpkg/status -> /var/lib/dpkg/status to the build machine's database.
 */
async function copyDpkgDatabase(root: string, to: string): Promise<void> {
  await mkdir(path.join(to, 'updates'), { recursive: true });
  await writeFile(path.join(to, 'status'), await readFileInTree(root, `${dpkgDir}/status`));
  if ((await lstatInTree(root, `${dpkgDir}/arch`)) !== undefined)
    await writeFile(path.join(to, 'arch'), await readFileInTree(root, `${dpkgDir}/arch`));
  for (const name of await readDirInTree(root, `${dpkgDir}/updates`)) {
    if (!/^\d+$/.test(name)) continue;
    const journal = await readFileInTree(root, `${dpkgDir}/updates/${name}`);
    await writeFile(path.join(to, 'updates', name), journal);
  }
}

/** The packages dpkg knows in the tree, read with `dpkg-query --admindir` (nothing runs inside). */
export async function readInstalledPackages(root: string): Promise<InstalledPackage[]> {
  const admindir = await mkdtemp(path.join(os.tmpdir(), 'ucvm-dpkg-'));
  let stdout: string;
  try {
    await copyDpkgDatabase(root, admindir);
    ({ stdout } = await run('dpkg-query', [
      `--admindir=${admindir}`,
      '--show',
      '--showformat=${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n',
    ]));
  } finally {
    await rm(admindir, { recursive: true, force: true });
  }
  const packages = stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [name = '', version = '', architecture = '', status = ''] = line.split('\t');
      return { name, version, architecture, status };
    });
  return sortedBy(packages, (p) => p.name);
}

/**
 * What differs between the packages that should be installed (name → version) and what is:
 * missing ones, extra ones, other versions and packages not fully installed. Empty when equal.
 */
export function installedSetProblems(
  expected: ReadonlyMap<string, string>,
  installed: readonly InstalledPackage[],
): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const pkg of installed) {
    // dpkg keeps removed-but-not-purged packages as `rc`; only what is on disk matters.
    if (pkg.status.startsWith('un') || pkg.status.startsWith('pn')) continue;
    seen.add(pkg.name);
    const version = expected.get(pkg.name);
    if (version === undefined)
      problems.push(`extra: ${pkg.name} ${pkg.version} is installed but not pinned`);
    else if (compareDebianVersions(version, pkg.version) !== 0)
      problems.push(`version: ${pkg.name} ${pkg.version} is installed, ${version} is pinned`);
    if (pkg.status.trim() !== 'ii')
      problems.push(
        `state: ${pkg.name} ${pkg.version} is not fully installed (dpkg status "${pkg.status.trim()}")`,
      );
  }
  for (const [name, version] of sortedBy(expected, ([expectedName]) => expectedName)) {
    if (!seen.has(name)) problems.push(`missing: ${name} ${version} is pinned but not installed`);
  }
  return problems;
}

/** Throws BUILD_FAILED naming every extra, missing or wrong package. */
export async function verifyInstalledSet(
  root: string,
  expected: ReadonlyMap<string, string>,
): Promise<void> {
  const problems = installedSetProblems(expected, await readInstalledPackages(root));
  if (problems.length === 0) return;
  const count = problems.length;
  throw new UcvmError(
    'BUILD_FAILED',
    `the installed packages differ from the pinned set (${count} problem${count === 1 ? '' : 's'})`,
    {
      details: `${problems.join('\n')}\nThe pinned set plus the meta package must be exactly what dpkg installed.`,
    },
  );
}
