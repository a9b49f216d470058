import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isUcvmError, UcvmError } from '../../errors.js';
import { run } from '../../exec/index.js';
import type { Logger } from '../../log.js';
import type { PackageRecord } from '../package-source.js';
import { cachedFileMatches, type AptCache } from './cache.js';
import {
  downloadVerified,
  fetchOptional,
  joinUrl,
  readOptional,
  verifyError,
  writeAtomic,
  type TransferStats,
} from './fetch.js';
import { parsePackages } from './packages.js';
import {
  byHashPath,
  checkValidUntil,
  packagesCandidates,
  parseRelease,
  type Compression,
  type IndexCandidate,
  type Release,
} from './release.js';
import { verifyReleaseSignature } from './signature.js';
import type { SourceEntry } from './sources.js';

/** What loading one source's indices needs. */
export interface LoadContext {
  cache: AptCache;
  stats: TransferStats;
  logger: Logger;
  rootDir: string;
  offline: boolean;
  now: Date;
  checkValidUntil: boolean;
  /** Index compressions to use, best first (`xz` only when the xz program exists). */
  compressions: readonly Compression[];
}

function offlineError(what: string): UcvmError {
  return new UcvmError('PACKAGE_MISSING', `${what} is not in the apt cache (offline)`, {
    details: 'Run once with network access to fill the cache, or drop --offline.',
  });
}

interface SignedRelease {
  url: string;
  signature: Buffer;
  signed?: Buffer;
}

async function downloadSignedRelease(
  source: SourceEntry,
  ctx: LoadContext,
): Promise<SignedRelease> {
  const base = joinUrl(source.uri, `dists/${source.suite}`);
  const dir = ctx.cache.releaseDir(source.uri, source.suite);
  if (ctx.offline) {
    const inRelease = await readOptional(path.join(dir, 'InRelease'));
    if (inRelease !== undefined) return { url: `${base}/InRelease`, signature: inRelease };
    const release = await readOptional(path.join(dir, 'Release'));
    const signature = await readOptional(path.join(dir, 'Release.gpg'));
    if (release === undefined || signature === undefined) throw offlineError(`${base}/InRelease`);
    return { url: `${base}/Release`, signature, signed: release };
  }
  const inRelease = await fetchOptional(`${base}/InRelease`, ctx.stats);
  if (inRelease !== undefined) return { url: `${base}/InRelease`, signature: inRelease };
  const release = await fetchOptional(`${base}/Release`, ctx.stats);
  if (release === undefined) {
    throw new UcvmError('HTTP_FAILED', `${base}: neither InRelease nor Release exists`, {
      details: `Check the URI and suite of the apt source${source.file === undefined ? '' : ` in ${source.file}`}.`,
    });
  }
  const signature = await fetchOptional(`${base}/Release.gpg`, ctx.stats);
  if (signature === undefined) {
    throw new UcvmError(
      'RELEASE_SIGNATURE',
      `${base}/Release: unsigned (no InRelease and no Release.gpg)`,
      {
        details: 'ucvm only uses archives whose Release file is signed by a trusted key.',
      },
    );
  }
  return { url: `${base}/Release`, signature, signed: release };
}

async function remember(
  signed: SignedRelease,
  source: SourceEntry,
  ctx: LoadContext,
): Promise<void> {
  const dir = ctx.cache.releaseDir(source.uri, source.suite);
  if (signed.signed === undefined) {
    await writeAtomic(path.join(dir, 'InRelease'), signed.signature);
    await rm(path.join(dir, 'Release'), { force: true });
    await rm(path.join(dir, 'Release.gpg'), { force: true });
  } else {
    await rm(path.join(dir, 'InRelease'), { force: true });
    await writeAtomic(path.join(dir, 'Release'), signed.signed);
    await writeAtomic(path.join(dir, 'Release.gpg'), signed.signature);
  }
}

/** Downloads (or, offline, reads back) a source's Release file, verifies its signature and date. */
export async function loadRelease(source: SourceEntry, ctx: LoadContext): Promise<Release> {
  const signed = await downloadSignedRelease(source, ctx);
  const text = await verifyReleaseSignature({
    url: signed.url,
    signature: signed.signature,
    ...(signed.signed !== undefined && { signed: signed.signed }),
    signedBy: source.signedBy,
    rootDir: ctx.rootDir,
  });
  const release = parseRelease(text, signed.url);
  if (ctx.checkValidUntil) checkValidUntil(release, signed.url, ctx.now);
  // Only a Release that verified replaces the remembered one.
  if (!ctx.offline) await remember(signed, source, ctx);
  return release;
}

async function decompress(file: string, compression: Compression): Promise<string> {
  if (compression === 'xz') {
    // Through a file, not a pipe: Debian's main index is ~50 MB, half of execa's output buffer limit.
    const work = await mkdtemp(path.join(os.tmpdir(), 'ucvm-xz-'));
    try {
      const out = path.join(work, 'Packages');
      await run('sh', ['-c', 'exec xz -dc -- "$1" > "$2"', 'sh', file, out]);
      return await readFile(out, 'utf8');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const data = await readFile(file);
  return (compression === 'gz' ? gunzipSync(data) : data).toString('utf8');
}

/** Gets one verified Packages file into the cache, trying each listed compression. */
async function fetchIndex(
  source: SourceEntry,
  release: Release,
  candidates: readonly IndexCandidate[],
  ctx: LoadContext,
): Promise<IndexCandidate & { file: string }> {
  const base = joinUrl(source.uri, `dists/${source.suite}`);
  for (const candidate of candidates) {
    const file = ctx.cache.indexFile(candidate.sha256);
    if (await cachedFileMatches(file, candidate, true)) {
      ctx.stats.cacheHits += 1;
      return { ...candidate, file };
    }
  }
  if (ctx.offline) throw offlineError(`${base}/${candidates[0]?.path ?? 'Packages'}`);
  // Like apt, a file that is missing or does not verify makes us try the next listed variant;
  // only when none verifies is the first mismatch reported.
  let mismatch: UcvmError | undefined;
  for (const candidate of candidates) {
    const file = ctx.cache.indexFile(candidate.sha256);
    const expected = {
      ...candidate,
      describe: (problem: string) =>
        verifyError(
          `${base}/${candidate.path}`,
          problem,
          'The index does not match the signed Release file: the mirror is inconsistent or the file was tampered with.',
        ),
    };
    const urls = release.acquireByHash
      ? [`${base}/${byHashPath(candidate)}`, `${base}/${candidate.path}`]
      : [`${base}/${candidate.path}`];
    for (const url of urls) {
      ctx.logger.debug('downloading apt index', { url });
      try {
        if (await downloadVerified(url, file, expected, ctx.stats)) return { ...candidate, file };
      } catch (error) {
        if (!isUcvmError(error, 'PACKAGE_VERIFY')) throw error;
        ctx.logger.warn('apt index does not match its Release file', {
          url,
          problem: error.message,
        });
        mismatch ??= error;
        break;
      }
    }
  }
  if (mismatch !== undefined) throw mismatch;
  throw new UcvmError(
    'HTTP_FAILED',
    `${base}: no Packages file listed in Release could be downloaded`,
    {
      details: `Tried ${candidates.map((candidate) => candidate.path).join(', ')}.`,
    },
  );
}

/**
 * As apt: binary-all is read only when the Release names `all` among its architectures (or names
 * none) and does not say `No-Support-for-Architecture-all: Packages`. Some archives list
 * binary-all files they do not keep consistent, and apt never reads them.
 */
function readsBinaryAll(release: Release, component: string): boolean {
  if (release.noBinaryAll) return false;
  if (release.architectures.length > 0 && !release.architectures.includes('all')) return false;
  return [...release.files.keys()].some((file) =>
    file.startsWith(`${component}/binary-all/Packages`),
  );
}

/** The verified package records of one source for `architecture` (and `all`), in source order. */
export async function loadPackages(
  source: SourceEntry,
  release: Release,
  architecture: string,
  ctx: LoadContext,
): Promise<PackageRecord[]> {
  const records: PackageRecord[] = [];
  for (const component of source.components) {
    const arches = [architecture];
    if (architecture !== 'all' && readsBinaryAll(release, component)) arches.push('all');
    for (const arch of arches) {
      const candidates = packagesCandidates(release, component, arch, ctx.compressions);
      if (candidates.length === 0) {
        if (arch === architecture)
          ctx.logger.warn('apt source has no index for component', {
            uri: source.uri,
            suite: source.suite,
            component,
            arch,
          });
        continue;
      }
      const index = await fetchIndex(source, release, candidates, ctx);
      const origin = `${source.uri} ${source.suite}/${component}`;
      const parsed = parsePackages(await decompress(index.file, index.compression), origin);
      if (parsed.skipped > 0)
        ctx.logger.warn('apt index has unusable stanzas', { origin, skipped: parsed.skipped });
      records.push(
        ...parsed.records.filter(
          (record) => record.architecture === architecture || record.architecture === 'all',
        ),
      );
    }
  }
  return records;
}
