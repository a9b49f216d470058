import { rm } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import type { PackageRecord } from '../package-source.js';
import { offlineError, type LoadContext } from './context.js';
import { fetchOptional, joinUrl, readOptional, writeAtomic } from './fetch.js';
import { loadTable, prefetchTables } from './index-files.js';
import { tableRecords } from './package-table.js';
import {
  checkValidUntil,
  packagesCandidates,
  parseRelease,
  type Compression,
  type IndexCandidate,
  type Release,
} from './release.js';
import { verifyReleaseSignature } from './signature.js';
import type { SourceEntry } from './sources.js';

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

/** Every compression, best first: a cached parsed index made from any listed variant will do. */
const allCompressions: readonly Compression[] = ['xz', 'gz', 'none'];

interface IndexList {
  component: string;
  arch: string;
  /** The listed variants of the index, best first; empty if the Release lists none. */
  candidates: IndexCandidate[];
}

/** The Packages indices of one source to read for `architecture` (and `all`), in order. */
function indexLists(source: SourceEntry, release: Release, architecture: string): IndexList[] {
  const lists: IndexList[] = [];
  for (const component of source.components) {
    const arches = [architecture];
    if (architecture !== 'all' && readsBinaryAll(release, component)) arches.push('all');
    for (const arch of arches)
      lists.push({
        component,
        arch,
        candidates: packagesCandidates(release, component, arch, allCompressions),
      });
  }
  return lists;
}

/** The text of a clearsigned InRelease, not verified; a plain Release as it is. */
function unverifiedText(data: string): string {
  const begin = data.indexOf('-----BEGIN PGP SIGNED MESSAGE-----');
  if (begin < 0) return data;
  const start = data.indexOf('\n\n', begin);
  const end = data.indexOf('\n-----BEGIN PGP SIGNATURE-----', start);
  if (start < 0 || end < 0) return '';
  return data.slice(start + 2, end).replace(/^- /gm, '');
}

/**
 * Starts reading the parsed indices that the source's last verified Release named, while its
 * current Release is downloaded and verified: most often they are the same. Only a hint; what
 * is used is decided by the verified Release alone.
 */
export async function prefetchPackages(
  source: SourceEntry,
  architecture: string,
  ctx: LoadContext,
): Promise<void> {
  const dir = ctx.cache.releaseDir(source.uri, source.suite);
  try {
    const data =
      (await readOptional(path.join(dir, 'InRelease'))) ??
      (await readOptional(path.join(dir, 'Release')));
    if (data === undefined) return;
    const release = parseRelease(unverifiedText(data.toString('utf8')), dir);
    for (const list of indexLists(source, release, architecture))
      prefetchTables(list.candidates, ctx);
  } catch {
    // No usable hint: the indices are read after verification.
  }
}

/** The verified package records of one source for `architecture` (and `all`), in source order. */
export async function loadPackages(
  source: SourceEntry,
  release: Release,
  architecture: string,
  ctx: LoadContext,
): Promise<PackageRecord[]> {
  const records: PackageRecord[] = [];
  for (const { component, arch, candidates } of indexLists(source, release, architecture)) {
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
    const table = await loadTable(source, release, candidates, ctx);
    const origin = `${source.uri} ${source.suite}/${component}`;
    if (table.skipped > 0)
      ctx.logger.warn('apt index has unusable stanzas', { origin, skipped: table.skipped });
    for (const record of tableRecords(
      table,
      origin,
      (found) => found === architecture || found === 'all',
    ))
      records.push(record);
  }
  return records;
}
