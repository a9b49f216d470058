import path from 'node:path';
import { UcvmError } from '../errors.js';
import { run } from '../exec/index.js';
import { compareDebianVersions } from '../packages/debian/index.js';

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
  /** dpkg's abbreviated status, `ii ` when fully installed. */
  status: string;
}

/** The packages dpkg knows in the tree, read with `dpkg-query --admindir` (nothing runs inside). */
export async function readInstalledPackages(root: string): Promise<InstalledPackage[]> {
  const { stdout } = await run('dpkg-query', [
    `--admindir=${path.join(root, 'var/lib/dpkg')}`,
    '--show',
    '--showformat=${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n',
  ]);
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [name = '', version = '', architecture = '', status = ''] = line.split('\t');
      return { name, version, architecture, status };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
  for (const [name, version] of [...expected].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
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
