import pLimit from 'p-limit';
import { UcvmError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Manifest } from '../manifest/index.js';
import { checkClosure, type ClosureProblem } from '../packages/debian/index.js';
import type { PackageRecord, PackageSource } from '../packages/package-source.js';
import { verifyFile, type PackagePool } from '../packages/pool/index.js';

/** A pinned package with its verified record and a verified local copy of its file. */
export interface ResolvedPackage {
  record: PackageRecord;
  debPath: string;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function closureError(problems: readonly ClosureProblem[]): UcvmError {
  const missing = problems.filter(
    (p) => p.kind === 'missing-package' || p.kind === 'missing-version',
  );
  const details = `${problems.map((p) => p.message).join('\n')}\nNothing was built.`;
  if (missing.length > 0) {
    const first = missing[0];
    const message =
      missing.length === 1 && first !== undefined
        ? `pinned package ${first.package} ${first.version} is not in the package source`
        : `${plural(missing.length, 'pinned package')} are not in the package source: ${missing.map((p) => `${p.package} ${p.version}`).join(', ')}`;
    return new UcvmError('PACKAGE_MISSING', message, { details });
  }
  return new UcvmError(
    'PACKAGE_CLOSURE',
    `the pinned package set is not closed (${plural(problems.length, 'problem')})`,
    {
      details,
    },
  );
}

/**
 * Finds every pinned package in the source and checks that the set is closed (dependencies,
 * conflicts, breaks, essential packages). Throws PACKAGE_MISSING when a pinned name or version
 * is absent, PACKAGE_CLOSURE for any other problem; every problem is listed in the details.
 */
export async function resolvePinned(
  manifest: Manifest,
  source: PackageSource,
): Promise<PackageRecord[]> {
  const index = await source.index();
  const report = checkClosure({
    pinned: manifest.packages,
    records: index.all(),
    architecture: manifest.base.architecture,
  });
  if (!report.ok) throw closureError(report.problems);
  return [...report.members.values()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}

/** Fails before anything is built if the pool holds one of the packages with other content. */
export async function checkPoolAgreement(
  records: readonly PackageRecord[],
  pool: PackagePool,
): Promise<void> {
  const conflicts: string[] = [];
  for (const record of records) {
    const entry = await pool.get(record.name, record.version, record.architecture);
    if (entry !== undefined && entry.sha256 !== record.sha256.toLowerCase())
      conflicts.push(
        `${record.name} ${record.version} (${record.architecture}): pool ${entry.sha256} from ${entry.origin}, source ${record.sha256} from ${record.origin}`,
      );
  }
  if (conflicts.length === 0) return;
  throw new UcvmError(
    'PACKAGE_VERIFY',
    `the package pool holds ${plural(conflicts.length, 'package')} with other content than the source`,
    {
      details: `${conflicts.join('\n')}\nOne version of a package must have one content; nothing was built.`,
    },
  );
}

/**
 * Fetches every package file (at most 4 at once) and checks each against its record's SHA256
 * and size again, whatever the source did: the private repository trusts these files blindly.
 */
export async function fetchVerified(
  records: readonly PackageRecord[],
  source: PackageSource,
  logger: Logger,
): Promise<ResolvedPackage[]> {
  const limit = pLimit(4);
  return Promise.all(
    records.map((record) =>
      limit(async () => {
        const debPath = await source.fetch(record);
        await verifyFile(
          debPath,
          record,
          `package ${record.name} ${record.version} (${record.architecture})`,
        );
        logger.debug('package verified', {
          package: `${record.name} ${record.version}`,
          origin: record.origin,
        });
        return { record, debPath };
      }),
    ),
  );
}
