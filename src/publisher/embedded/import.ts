import pLimit from 'p-limit';
import { objectPath } from '../../cvmfs/hash.js';
import type { CatalogFile } from '../../cvmfs/catalog/sqlite.js';
import { isUcvmError, UcvmError } from '../../errors.js';
import { loadSigningKeys, type SigningKeys } from '../../keys/index.js';
import { silentProgress, type Progress } from '../../log.js';
import type { Repository } from '../../reader/repository.js';
import type { ImportRequest, ImportResult, ImportStats } from '../publisher.js';
import { checkTagName } from './admin.js';
import { openVerifiedBase, type VerifiedBase } from './base.js';
import { nextTimestamp, removeObjects, withLock, type EmbeddedContext } from './context.js';
import { checkRollingTags } from './publish.js';
import { signNewRevision } from './sign-revision.js';

/** Objects fetched at once: enough to hide HTTP latency, few enough to bound memory. */
const PARALLEL_FETCHES = 8;

interface ImportRun {
  context: EmbeddedContext;
  request: ImportRequest;
  base: VerifiedBase;
  keys: SigningKeys;
  /** Objects this run stored; removed again if it fails before it commits. */
  written: string[];
  stats: ImportStats;
  progress: Progress;
}

/**
 * Copies a snapshot of another repository into this one (a promotion): every catalog and
 * object the target lacks, each verified against its hash as it is read from the source, data
 * before the catalogs that name it and nested catalogs before their parents, then a new signed
 * revision whose root catalog is the source's, unchanged (same hash in both repositories).
 *
 * The new revision number is above both the target's current one and the reused catalog's own
 * `revision`, so that clients following the newest revision always see it as newer (the client
 * takes the larger of the mounted catalog's revision and its breadcrumb as the one it has).
 */
export async function importSnapshot(
  context: EmbeddedContext,
  request: ImportRequest,
  progress: Progress = silentProgress,
): Promise<ImportResult> {
  checkTagName(request.tag);
  for (const tag of request.rollingTags ?? []) checkTagName(tag);
  return withLock(context, 'import', async () => {
    const started = Date.now();
    const keys = await loadSigningKeys(context.keys);
    const base = await openVerifiedBase(context, {
      purpose: 'signing',
      certificatePem: keys.certificatePem,
    });
    const run: ImportRun = {
      context,
      request,
      base,
      keys,
      written: [],
      progress,
      stats: {
        catalogs: 0,
        catalogsCopied: 0,
        objects: 0,
        objectsCopied: 0,
        bytesCopied: 0,
        catalogBytesCopied: 0,
        seconds: 0,
      },
    };
    const finish = (result: Omit<ImportResult, 'fqrn' | 'stats' | 'dryRun'>): ImportResult => {
      run.stats.seconds = (Date.now() - started) / 1000;
      return { fqrn: context.fqrn, ...result, dryRun: request.dryRun === true, stats: run.stats };
    };
    let committed = false;
    try {
      checkRollingTags(base, request.rollingTags ?? [], context.fqrn);
      const existing = base.history.get(request.tag);
      if (existing !== undefined && existing.hashHex !== request.rootHash)
        throw new UcvmError(
          'TAG_IMMUTABLE',
          `tag ${request.tag} exists in ${context.fqrn} and points to other content`,
          {
            details: `It holds root ${existing.hashHex}, the source ${request.rootHash}. Named snapshots never change: promote under a new version.`,
          },
        );
      const root = await copySnapshot(run);
      if (request.dryRun === true)
        return finish({
          revision: base.repository.manifest.revision + 1,
          rootHash: request.rootHash,
          tag: request.tag,
          unchanged: existing !== undefined,
        });
      const unchanged =
        existing !== undefined &&
        (request.rollingTags ?? []).every(
          (tag) => base.history.get(tag)?.hashHex === request.rootHash,
        );
      if (unchanged)
        return finish({
          revision: base.repository.manifest.revision,
          rootHash: request.rootHash,
          tag: request.tag,
          unchanged: true,
        });
      const revision = await signImport(run, root);
      committed = true;
      context.logger.info('imported', {
        revision,
        tag: request.tag,
        root: request.rootHash,
        from: request.source.source.location,
      });
      return finish({ revision, rootHash: request.rootHash, tag: request.tag, unchanged: false });
    } catch (error) {
      if (!committed) await removeObjects(context, run.written, 'import');
      throw error;
    } finally {
      base.repository.close();
    }
  });
}

interface RootInfo {
  revision: number;
  lastModified: number;
  size: number;
}

/** Copies what the target lacks of the snapshot; returns what the root catalog says. */
async function copySnapshot(run: ImportRun): Promise<RootInfo> {
  const { request } = run;
  const seen = new Set<string>();
  const objectsSeen = new Set<string>();
  const limit = pLimit(PARALLEL_FETCHES);
  let root: RootInfo | undefined;
  run.progress.start('copying objects', 0);

  async function copyCatalog(hashHex: string, declaredSize: number | undefined): Promise<void> {
    if (seen.has(hashHex)) return;
    seen.add(hashHex);
    run.stats.catalogs++;
    const name = objectPath(hashHex, 'C');
    const present = (await run.context.storage.missing([name])).length === 0;
    // A catalog the target has is read from the target: the same hash is the same bytes.
    const reader: Repository = present ? run.base.repository : request.source;
    const { catalog, stored } = present
      ? { catalog: await reader.catalog(hashHex, declaredSize), stored: undefined }
      : await request.source.storedCatalog(hashHex, declaredSize);
    try {
      if (root === undefined) {
        if (catalog.mountpoint !== '')
          throw new UcvmError('USAGE', `${hashHex} is a nested catalog, not a root catalog`);
        root = {
          revision: catalog.revision,
          lastModified: catalog.lastModified,
          size: catalog.byteLength,
        };
      }
      for (const nested of catalog.nested()) await copyCatalog(nested.hashHex, nested.size);
      await copyContents(catalog, hashHex);
      if (stored !== undefined) {
        await store(name, stored);
        run.stats.catalogsCopied++;
        run.stats.catalogBytesCopied += stored.length;
      }
    } finally {
      reader.forgetCatalog(hashHex);
    }
  }

  async function copyContents(catalog: CatalogFile, catalogHash: string): Promise<void> {
    const objects = catalog
      .contentObjects()
      .filter((object) => {
        const name = objectPath(object.hashHex, object.suffix);
        if (objectsSeen.has(name)) return false;
        objectsSeen.add(name);
        return true;
      })
      .map((object) => ({ ...object, name: objectPath(object.hashHex, object.suffix) }));
    run.stats.objects += objects.length;
    const missing = new Set(await run.context.storage.missing(objects.map((o) => o.name)));
    await Promise.all(
      objects
        .filter((object) => missing.has(object.name))
        .map((object) =>
          limit(async () => {
            let bytes: Buffer;
            try {
              bytes = await request.source.object(object.hashHex, object.suffix, object.size);
            } catch (error) {
              if (isUcvmError(error, 'OBJECT_CORRUPT') || isUcvmError(error, 'OBJECT_MISSING'))
                throw sourceObjectError(error, catalog, catalogHash, object.hashHex);
              throw error;
            }
            await store(object.name, bytes);
            run.stats.objectsCopied++;
          }),
        ),
    );
  }

  async function store(name: string, bytes: Buffer): Promise<void> {
    run.stats.bytesCopied += bytes.length;
    run.progress.advance(bytes.length);
    if (request.dryRun === true) return;
    if (await run.context.storage.putIfAbsent(name, bytes)) run.written.push(name);
  }

  try {
    await copyCatalog(request.rootHash, undefined);
    run.progress.stop(true);
  } catch (error) {
    limit.clearQueue();
    run.progress.stop(false);
    throw error;
  }
  return root!;
}

function sourceObjectError(
  error: UcvmError,
  catalog: CatalogFile,
  catalogHash: string,
  hashHex: string,
): UcvmError {
  const file = catalog.pathOfContent(hashHex);
  return new UcvmError(
    error.code,
    `${error.message} in the source${file === undefined ? '' : ` (content of ${file === '' ? '/' : file})`}`,
    {
      details: `Object ${hashHex}, named by catalog ${catalogHash}. Nothing was published; repair the source (\`ucvm repo verify\` lists what else is wrong) and promote again.`,
      where: { path: file ?? objectPath(hashHex, '') },
      cause: error,
    },
  );
}

/** Signs the new revision, its root catalog the source's; returns its number. */
async function signImport(run: ImportRun, root: RootInfo): Promise<number> {
  const { context, request, base } = run;
  const previous = base.repository.manifest;
  const revision = Math.max(previous.revision + 1, root.revision);
  await signNewRevision(
    context,
    base,
    run.keys,
    {
      rootHash: request.rootHash,
      rootSize: root.size,
      revision,
      // A tag's revision is its root catalog's own (what readers and `cvmfs_server` check).
      catalogRevision: root.revision,
      publishedAt: nextTimestamp(context, Math.max(previous.publishedAt, root.lastModified)),
      tag: request.tag,
      description: request.description ?? '',
      rollingTags: request.rollingTags ?? [],
      keepExistingTag: true,
    },
    run.written,
  );
  return revision;
}
