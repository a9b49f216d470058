import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { hasCommand } from '../../exec/index.js';
import { silentLogger, type Logger } from '../../log.js';
import type { PackageIndex, PackageRecord, PackageSource } from '../package-source.js';
import { cachedFileMatches, createAptCache, defaultAptCacheDir } from './cache.js';
import {
  downloadVerified,
  joinUrl,
  newTransferStats,
  verifyError,
  type TransferStats,
} from './fetch.js';
import type { LoadContext } from './context.js';
import { loadPackages, loadRelease, prefetchPackages } from './indices.js';
import { archiveRoot, createPackageIndex } from './packages.js';
import type { Compression } from './release.js';
import { readAptSources, type SourceEntry } from './sources.js';

export { defaultAptCacheDir } from './cache.js';
export type { TransferStats as AptStats } from './fetch.js';
export { createPackageIndex } from './packages.js';
export { parseDeb822Sources, parseOneLineSources, readAptSources } from './sources.js';
export type { SignedBy, SourceEntry } from './sources.js';

export interface AptSourceOptions {
  /** Cache directory (default: `defaultAptCacheDir()`). */
  cacheDir?: string;
  /** Debian architecture, e.g. `amd64`; `all` packages are always included. */
  architecture: string;
  /** Sources in priority order (default: the machine's apt sources under `rootDir`). */
  sources?: readonly SourceEntry[];
  /** Root of the machine whose sources and default keyrings are used (default `/`). */
  rootDir?: string;
  logger?: Logger;
  /** Use only the cache: no network. Fails if something is missing. */
  offline?: boolean;
  /** Reject Release files past their Valid-Until (default true; turn off for snapshot archives). */
  checkValidUntil?: boolean;
  /** Re-hash cached .deb files on reuse instead of only checking their size. */
  verifyCachedDebs?: boolean;
  /** Clock for Valid-Until checks (tests). */
  now?: () => Date;
}

/** A Debian apt archive as a package source, with transfer counters. */
export interface AptSource extends PackageSource {
  /** Counters since creation: what was downloaded and what came from the cache. */
  stats(): TransferStats;
}

/**
 * Creates a package source over apt archives. `index()` verifies each source's InRelease with
 * gpgv, then its Packages files against the signed SHA256 list; `fetch()` verifies each .deb
 * against its record. Everything is cached, so a second run downloads only the InRelease files.
 */
export function createAptSource(options: AptSourceOptions): AptSource {
  const cache = createAptCache(options.cacheDir ?? defaultAptCacheDir());
  const stats = newTransferStats();
  const logger = options.logger ?? silentLogger;
  const rootDir = options.rootDir ?? '/';
  const offline = options.offline ?? false;
  let loaded: Promise<PackageIndex> | undefined;

  async function loadIndex(): Promise<PackageIndex> {
    const all = options.sources ?? (await readAptSources(rootDir));
    const sources = all.filter(
      (source) =>
        source.architectures === undefined || source.architectures.includes(options.architecture),
    );
    if (sources.length === 0) {
      throw new UcvmError(
        'PACKAGE_MISSING',
        `no apt sources for architecture ${options.architecture}`,
        {
          details: `Configure apt sources under ${path.join(rootDir, 'etc/apt')}, or pass them explicitly.`,
        },
      );
    }
    // Only needed to decompress a new index: checked while the rest goes on.
    const compressions = hasCommand('xz').then((xz): Compression[] =>
      xz ? ['xz', 'gz', 'none'] : ['gz', 'none'],
    );
    const ctx: LoadContext = {
      cache,
      stats,
      logger,
      rootDir,
      offline,
      now: options.now?.() ?? new Date(),
      checkValidUntil: options.checkValidUntil ?? true,
      compressions,
      prefetched: new Map(),
    };
    const perSource = await Promise.all(
      sources.map(async (source) => {
        if (source.components.length === 0) {
          logger.warn('flat apt repositories are not supported; skipped', {
            uri: source.uri,
            suite: source.suite,
          });
          return [];
        }
        const prefetch = prefetchPackages(source, options.architecture, ctx);
        const release = await loadRelease(source, ctx);
        await prefetch;
        return loadPackages(source, release, options.architecture, ctx);
      }),
    );
    const index = createPackageIndex(perSource.flat());
    logger.debug('apt index loaded', { sources: sources.length, ...stats });
    return index;
  }

  async function fetchPackage(record: PackageRecord): Promise<string> {
    const file = cache.debFile(record);
    if (await cachedFileMatches(file, record, options.verifyCachedDebs ?? false)) {
      stats.cacheHits += 1;
      return file;
    }
    const label = `${record.name} ${record.version} (${record.architecture})`;
    if (offline) {
      throw new UcvmError('PACKAGE_MISSING', `${label} is not in the apt cache (offline)`, {
        details: 'Run once with network access to fill the cache, or drop --offline.',
      });
    }
    const url = joinUrl(archiveRoot(record), record.filename);
    logger.debug('downloading package', { url });
    const expected = {
      size: record.size,
      sha256: record.sha256,
      describe: (problem: string) =>
        verifyError(
          `package ${label}`,
          problem,
          `${url} does not match its signed index entry: the mirror is inconsistent or the file was tampered with.`,
        ),
    };
    if (!(await downloadVerified(url, file, expected, stats))) {
      throw new UcvmError('PACKAGE_MISSING', `package ${label}: ${url} not found`, {
        details:
          'The index lists the package but the archive does not have the file; refresh the index or use another mirror.',
      });
    }
    return file;
  }

  return {
    kind: 'apt',
    index() {
      // A failed load is not remembered: the next call tries again.
      loaded ??= loadIndex().catch((error: unknown) => {
        loaded = undefined;
        throw error;
      });
      return loaded;
    },
    fetch: fetchPackage,
    stats() {
      return { ...stats };
    },
  };
}
