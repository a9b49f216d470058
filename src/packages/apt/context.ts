import { UcvmError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AptCache } from './cache.js';
import type { TransferStats } from './fetch.js';
import type { PackageTable } from './package-table.js';
import type { Compression } from './release.js';

/** What loading one source's indices needs. */
export interface LoadContext {
  cache: AptCache;
  stats: TransferStats;
  logger: Logger;
  rootDir: string;
  offline: boolean;
  now: Date;
  checkValidUntil: boolean;
  /** Index compressions that can be decompressed, best first (`xz` only when the xz program exists). */
  compressions: Promise<readonly Compression[]>;
  /** Parsed-index cache reads started early, by index SHA256 (see `prefetchTables`). */
  prefetched: Map<string, Promise<PackageTable | undefined>>;
}

export function offlineError(what: string): UcvmError {
  return new UcvmError('PACKAGE_MISSING', `${what} is not in the apt cache (offline)`, {
    details: 'Run once with network access to fill the cache, or drop --offline.',
  });
}
