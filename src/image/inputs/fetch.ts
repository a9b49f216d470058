import { UcvmError } from '../../errors.js';
import type { PackageRecord, PackageSource } from '../../packages/package-source.js';
import type { ImageInputs } from './schema.js';

export interface FetchedPackage {
  name: string;
  version: string;
  sha256: string;
  /** A verified local copy of the .deb. */
  file: string;
}

/**
 * The .deb of every pinned package, each checked twice: the archive's signed index must list
 * it with the pinned hash (so a rebuilt package under the same version is refused), and the
 * downloaded file must have that hash (the source verifies while it downloads).
 */
export async function fetchImagePackages(
  inputs: ImageInputs,
  source: PackageSource,
): Promise<FetchedPackage[]> {
  const index = await source.index();
  const records: PackageRecord[] = [];
  for (const [name, pin] of Object.entries(inputs.packages).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const record = [inputs.base.architecture, 'all']
      .map((architecture) => index.find(name, pin.version, architecture))
      .find((found) => found !== undefined);
    if (record === undefined)
      throw new UcvmError('PACKAGE_MISSING', `${name} ${pin.version} is not in the package index`, {
        details:
          'The archive dropped the pinned version: run `ucvm image lock` to pin what it has.',
        where: { file: 'pipeline/image.yaml', path: `packages.${name}` },
      });
    if (record.sha256 !== pin.sha256)
      throw new UcvmError(
        'PACKAGE_VERIFY',
        `${name} ${pin.version} in the index is not the pinned package`,
        {
          details: `The index lists SHA-256 ${record.sha256}; pipeline/image.yaml pins ${pin.sha256}. The archive rebuilt the package under the same version; check why before running \`ucvm image lock\`.`,
          where: { file: 'pipeline/image.yaml', path: `packages.${name}` },
        },
      );
    records.push(record);
  }
  const fetched: FetchedPackage[] = [];
  for (const record of records) {
    fetched.push({
      name: record.name,
      version: record.version,
      sha256: record.sha256,
      file: await source.fetch(record),
    });
  }
  return fetched;
}
