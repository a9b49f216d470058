import { isUcvmError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { createPackageIndex } from '../apt/packages.js';
import type { PackageIndex, PackageRecord, PackageSource } from '../package-source.js';

/**
 * A source that asks `primary` (the archive) first and `fallback` (the pool) second.
 *
 * The index holds every record of both; where both have one name and version, the archive's
 * record wins, because it was just verified against the archive's signed Release while the
 * pool's index is a local, unsigned file. So the pool only supplies what the archive no longer
 * has, which is what it is for. A record from the archive whose file has vanished from the
 * mirror is fetched from the pool when the pool holds the very same file (same SHA256).
 */
export function createFallbackSource(
  primary: PackageSource,
  fallback: PackageSource,
  logger: Logger = silentLogger,
): PackageSource {
  let loaded:
    | Promise<{
        index: PackageIndex;
        fromFallback: WeakSet<PackageRecord>;
        fallbackIndex: PackageIndex;
      }>
    | undefined;

  async function load() {
    const [first, second] = await Promise.all([primary.index(), fallback.index()]);
    const fromFallback = new WeakSet<PackageRecord>();
    for (const record of second.all()) fromFallback.add(record);
    const index = createPackageIndex([...first.all(), ...second.all()]);
    return { index, fromFallback, fallbackIndex: second };
  }

  function state() {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  }

  return {
    kind: primary.kind,
    async index() {
      return (await state()).index;
    },
    async fetch(record) {
      const { fromFallback, fallbackIndex } = await state();
      if (fromFallback.has(record)) return fallback.fetch(record);
      try {
        return await primary.fetch(record);
      } catch (error) {
        if (!isUcvmError(error, 'PACKAGE_MISSING') && !isUcvmError(error, 'HTTP_FAILED'))
          throw error;
        const copy = fallbackIndex.find(record.name, record.version, record.architecture);
        if (copy === undefined || copy.sha256 !== record.sha256.toLowerCase()) throw error;
        logger.warn('package file missing from the archive; using the pool copy', {
          package: `${record.name} ${record.version}`,
        });
        return fallback.fetch(copy);
      }
    },
  };
}
