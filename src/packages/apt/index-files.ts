import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isUcvmError, UcvmError } from '../../errors.js';
import { run } from '../../exec/index.js';
import { cachedFileMatches, pruneUnused } from './cache.js';
import { offlineError, type LoadContext } from './context.js';
import { downloadVerified, joinUrl, verifyError } from './fetch.js';
import { parsePackageTable, type PackageTable } from './package-table.js';
import { parsedIndexFormat, readParsedIndex, writeParsedIndex } from './parsed-cache.js';
import { byHashPath, type Compression, type IndexCandidate, type Release } from './release.js';
import type { SourceEntry } from './sources.js';

async function decompress(file: string, compression: Compression): Promise<Buffer> {
  if (compression === 'xz') {
    // Through a file, not a pipe: Debian's main index is ~50 MB, half of execa's output buffer limit.
    const work = await mkdtemp(path.join(os.tmpdir(), 'ucvm-xz-'));
    try {
      const out = path.join(work, 'Packages');
      await run('sh', ['-c', 'exec xz -dc -- "$1" > "$2"', 'sh', file, out]);
      return await readFile(out);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const data = await readFile(file);
  return compression === 'gz' ? gunzipSync(data) : data;
}

/** Gets one verified Packages file into the cache, trying each listed compression. */
async function fetchIndex(
  source: SourceEntry,
  release: Release,
  listed: readonly IndexCandidate[],
  ctx: LoadContext,
): Promise<IndexCandidate & { file: string }> {
  const base = joinUrl(source.uri, `dists/${source.suite}`);
  const usable = await ctx.compressions;
  const candidates = listed.filter((candidate) => usable.includes(candidate.compression));
  if (candidates.length === 0) {
    throw new UcvmError('PACKAGE_MISSING', `${base}: no index variant that can be decompressed`, {
      details: `Listed: ${listed.map((candidate) => candidate.path).join(', ')}. Install xz (xz-utils).`,
    });
  }
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
        if (await downloadVerified(url, file, expected, ctx.stats)) {
          // The parsed table is what later runs read; the index itself goes when unused.
          await pruneUnused(path.dirname(file), file, /^[0-9a-f]{64}$/).catch(() => undefined);
          return { ...candidate, file };
        }
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

function readTable(candidate: IndexCandidate, ctx: LoadContext): Promise<PackageTable | undefined> {
  const file = ctx.cache.parsedIndexFile(candidate.sha256, parsedIndexFormat);
  return readParsedIndex(file, candidate.sha256, (reason) =>
    ctx.logger.warn('parsed apt index cache is unusable; parsing again', { file, reason }),
  );
}

/**
 * Starts reading the parsed-index cache for these indices (named by a Release file that was not
 * verified yet: the tables are used only if the verified Release lists the same SHA256).
 */
export function prefetchTables(candidates: readonly IndexCandidate[], ctx: LoadContext): void {
  for (const candidate of candidates)
    if (!ctx.prefetched.has(candidate.sha256))
      ctx.prefetched.set(candidate.sha256, readTable(candidate, ctx));
}

/**
 * The parsed Packages file of one index (variants listed in the verified Release, best first):
 * from the parsed-index cache when it holds a variant, by its signed SHA256; else fetched,
 * verified, parsed and stored there.
 */
export async function loadTable(
  source: SourceEntry,
  release: Release,
  candidates: readonly IndexCandidate[],
  ctx: LoadContext,
): Promise<PackageTable> {
  for (const candidate of candidates) {
    const table = await (ctx.prefetched.get(candidate.sha256) ?? readTable(candidate, ctx));
    if (table !== undefined) {
      ctx.stats.cacheHits += 1;
      return table;
    }
  }
  const index = await fetchIndex(source, release, candidates, ctx);
  const url = joinUrl(source.uri, `dists/${source.suite}/${index.path}`);
  const table = parsePackageTable(await decompress(index.file, index.compression), url);
  const file = ctx.cache.parsedIndexFile(index.sha256, parsedIndexFormat);
  try {
    await writeParsedIndex(file, table, index.sha256);
  } catch (error) {
    // Only a cache: the next run parses again.
    ctx.logger.warn('cannot store the parsed apt index', {
      file,
      problem: (error as Error).message,
    });
  }
  return table;
}
