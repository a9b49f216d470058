import { resolve } from 'node:path';
import { objectPath } from '../../cvmfs/hash.js';
import { automaticTagName } from '../../cvmfs/fqrn.js';
import { UcvmError } from '../../errors.js';
import { loadSigningKeys, type SigningKeys } from '../../keys/index.js';
import { silentProgress, type Progress } from '../../log.js';
import { describeCatalogTree } from '../../reader/catalog-tree.js';
import type { PublishRequest, PublishResult, PublishStats } from '../publisher.js';
import { checkTagName } from './admin.js';
import { openVerifiedBase, type VerifiedBase } from './base.js';
import { buildCatalogs, type CatalogBuildResult } from './catalogs.js';
import { entryChanges, publishedSource } from './changes.js';
import { ContentStore, type StoredContent } from './content.js';
import {
  cacheFile,
  nextTimestamp,
  putMetadataObject,
  removeObjects,
  storageIdentity,
  withLock,
  type EmbeddedContext,
} from './context.js';
import { addAutoCatalogMarkers, partitionTree } from './partition.js';
import { rollingTagsOf } from './rolling-tags.js';
import { scanTree } from './scan.js';
import { signNewRevision } from './sign-revision.js';
import { StateCache, storedObjectHashes } from './state-cache.js';
import { isRegular, walkTree, type TreeNode } from './tree.js';

/** One publish in progress: what it builds on, what it has learned and written so far. */
interface PublishRun {
  context: EmbeddedContext;
  request: PublishRequest;
  treeRoot: string;
  keys: SigningKeys;
  base: VerifiedBase;
  cache: StateCache;
  storageId: string;
  /** The existing tag of that name, if it is a named (immutable) one. */
  immutableTag: ReturnType<VerifiedBase['history']['get']>;
  /** Compute everything, write nothing (asked for, or checking an immutable tag). */
  dryRun: boolean;
  /** Every object this run wrote; removed again if the run fails before it commits. */
  written: string[];
  started: number;
  /** The content store and its worker threads, open until the contents are all checked. */
  content?: ContentStore;
}

/** Stops the content workers and adds what they wrote to the run's objects (once). */
async function closeContent(run: PublishRun): Promise<void> {
  const { content } = run;
  if (content === undefined) return;
  run.content = undefined;
  run.written.push(...content.written);
  await content.close();
}

/**
 * Publishes a directory tree as a new revision: content objects, then catalogs leaves
 * first, then the history, and last the signed manifest. Until the manifest is replaced
 * nothing a client can see has changed, so a publish killed at any point leaves the previous
 * revision intact; the next run cleans up and, thanks to content addressing, reuses every
 * object that was already written. A publish that fails removes what it alone wrote.
 */
export async function publishTree(
  context: EmbeddedContext,
  request: PublishRequest,
  progress: Progress = silentProgress,
): Promise<PublishResult> {
  if (request.tag !== undefined) checkTagName(request.tag);
  for (const tag of request.rollingTags ?? []) checkTagName(tag);
  const treeRoot = resolve(request.tree);
  return withLock(context, 'publish', async () => {
    const started = Date.now();
    const keys = await loadSigningKeys(context.keys);
    const base = await openVerifiedBase(context, {
      purpose: 'signing',
      certificatePem: keys.certificatePem,
    });
    let cache: StateCache | undefined;
    let run: PublishRun | undefined;
    let committed = false;
    try {
      cache = new StateCache(cacheFile(context));
      const storageId = await storageIdentity(context);
      const existing = request.tag === undefined ? undefined : base.history.get(request.tag);
      const immutableTag =
        existing !== undefined && !rollingTagsOf(base.history).includes(existing.name)
          ? existing
          : undefined;
      run = {
        context,
        request,
        treeRoot,
        keys,
        base,
        cache,
        storageId,
        immutableTag,
        // An existing named tag may only be "published again" with identical content: check without writing.
        dryRun: request.dryRun === true || immutableTag !== undefined,
        written: [],
        started,
      };
      checkRollingTags(base, request.rollingTags ?? [], context.fqrn);
      bindSpool(run);
      const result = await publishRun(run, progress, () => {
        committed = true;
      });
      return result;
    } catch (error) {
      if (run !== undefined) await closeContent(run);
      if (run !== undefined && !committed) await removeObjects(context, run.written, 'publish');
      throw error;
    } finally {
      cache?.close();
      base.repository.close();
    }
  });
}

/**
 * The spool's stamps and content memory describe one storage at one revision. Anywhere else
 * (the storage was re-created, restored from an older copy, written by another machine) they
 * are forgotten, and this publish takes the safe path: every file is read and every object it
 * needs is checked or written.
 */
function bindSpool(run: PublishRun): void {
  const { manifest } = run.base.repository;
  const reset = run.cache.bind({
    storageId: run.storageId,
    revision: manifest.revision,
    rootCatalog: manifest.rootCatalog,
  });
  if (reset)
    run.context.logger.warn(
      'the spool does not describe this storage at this revision; reading the whole tree',
      { spool: run.context.spoolDir },
    );
}

async function publishRun(
  run: PublishRun,
  progress: Progress,
  markCommitted: () => void,
): Promise<PublishResult> {
  const { context, cache, treeRoot, base } = run;
  const content = new ContentStore(
    {
      target: context.storage.workerTarget(),
      algorithm: context.algorithm,
      compression: context.compression,
      chunking: context.chunking,
      dryRun: run.dryRun,
      statePath: cacheFile(context),
      profile: context.profile,
    },
    context.storage,
    cache,
    progress,
  );
  run.content = content;
  content.start();
  context.logger.info('scanning tree', { tree: treeRoot });
  const tree = await scanTree(treeRoot, { xattrs: context.xattrs });
  const mountpoints = partitionTree(tree, context.partition);
  addAutoCatalogMarkers(tree, mountpoints);
  cache.loadTree(treeRoot);
  const stored = await storeContents(run, tree, content, progress);

  const previousManifest = base.repository.manifest;
  // The stamps describe the previous revision row for row only if it is what this spool
  // last published from this tree; then what changed is known without comparing catalogs.
  const last = cache.lastPublished();
  const source = publishedSource(context, treeRoot);
  const knowsChanges =
    run.immutableTag === undefined &&
    last?.tree === source &&
    last.rootCatalog === previousManifest.rootCatalog;
  const { changedNodes, removed } = entryChanges(tree, treeRoot, new Set(stored.changed), cache);
  const previous = await describeCatalogTree(base.repository, previousManifest.rootCatalog, cache, {
    digests: !knowsChanges,
  });
  const revision = previousManifest.revision + 1;
  const publishedAt = nextTimestamp(context, previousManifest.publishedAt);
  const build = (catalogsBefore: typeof previous, changes: boolean): Promise<CatalogBuildResult> =>
    buildCatalogs({
      tree,
      mountpoints,
      contents: stored.contents,
      previous: catalogsBefore,
      revision,
      now: publishedAt,
      ttl: context.ttl,
      algorithm: context.algorithm,
      store: (bytes) =>
        putMetadataObject(context, bytes, 'C', { dryRun: run.dryRun, written: run.written }),
      ...(changes && {
        changes: {
          changed: changedNodes,
          removed,
          base: (record) =>
            base.repository.inflatedObject(record.hashHex, 'C').catch(() => undefined),
        },
      }),
      patchFailed: (mountpoint, error) =>
        context.logger.warn('catalog could not be patched; writing it afresh', {
          mountpoint: mountpoint || '/',
          problem: error.message,
        }),
    });
  let built = await build(previous, knowsChanges);
  // The catalogs were built while the workers looked for the objects of unchanged files.
  if (await restoreLost(run, stored, content)) {
    // The spool's memory was wrong: the catalogs are built again, compared row by row.
    context.logger.warn(
      'files the spool remembered hold other content; building the catalogs from what was read',
    );
    const compared = knowsChanges
      ? await describeCatalogTree(base.repository, previousManifest.rootCatalog, cache, {
          digests: true,
        })
      : previous;
    built = await build(compared, false);
  }
  await closeContent(run);
  const stats: PublishStats = {
    ...content.stats,
    catalogsWritten: built.written,
    catalogsReused: built.reused,
    catalogsPatched: built.patched,
    seconds: 0,
  };
  const finish = (result: Omit<PublishResult, 'fqrn' | 'stats'>): PublishResult => {
    stats.seconds = (Date.now() - run.started) / 1000;
    return { fqrn: context.fqrn, ...result, stats };
  };

  if (run.immutableTag !== undefined) {
    const existing = run.immutableTag;
    const tagged = await describeCatalogTree(base.repository, existing.hashHex, cache);
    if (tagged.get('')?.digest !== built.root.digest) {
      throw new UcvmError('TAG_IMMUTABLE', `tag ${existing.name} exists with other content`, {
        details: `Named snapshots never change (it points to revision ${existing.revision}, root ${existing.hashHex}). Publish under a new tag, e.g. a new version.`,
      });
    }
    // The tree is the tagged snapshot; if that is also the current revision, the stamps
    // describe it.
    cache.commit(
      existing.hashHex === previousManifest.rootCatalog
        ? { tree: source, rootCatalog: existing.hashHex }
        : undefined,
    );
    return finish({
      revision: existing.revision,
      rootHash: existing.hashHex,
      tag: existing.name,
      unchanged: true,
      dryRun: run.request.dryRun === true,
    });
  }

  const history = base.history;
  const tagName =
    run.request.tag ?? automaticTagName(context.now(), (name) => history.get(name) !== undefined);
  if (run.dryRun)
    return finish({
      revision,
      rootHash: built.root.hashHex,
      tag: tagName,
      unchanged: false,
      dryRun: true,
    });

  await ensureCatalogObjects(run, built);
  await stored.writeback;
  let learned: Error | undefined;
  const learn = (): void => {
    // What the spool learns is kept only if the manifest is replaced (commitStaged below).
    try {
      for (const record of built.records) cache.rememberCatalog(record);
      cache.stage(
        { tree: source, rootCatalog: built.root.hashHex },
        { storageId: run.storageId, revision, rootCatalog: built.root.hashHex },
      );
    } catch (error) {
      learned = error as Error;
    }
  };
  await signNewRevision(
    context,
    base,
    run.keys,
    {
      rootHash: built.root.hashHex,
      rootSize: built.root.size,
      revision,
      catalogRevision: revision,
      publishedAt,
      tag: tagName,
      description: run.request.description ?? '',
      rollingTags: run.request.rollingTags ?? [],
    },
    run.written,
    learn,
  );
  markCommitted();
  try {
    if (learned !== undefined) throw learned;
    cache.commitStaged();
  } catch (error) {
    // The revision is published; a spool that could not learn it is only slower next time.
    context.logger.warn(
      'published, but the spool could not record it; the next publish reads the whole tree',
      {
        problem: (error as Error).message,
      },
    );
  }
  context.logger.info('published', { revision, tag: tagName, root: built.root.hashHex });
  return finish({
    revision,
    rootHash: built.root.hashHex,
    tag: tagName,
    unchanged: false,
    dryRun: false,
  });
}

/**
 * The content of every regular file: from the stamps for files unchanged since the last
 * publish, from the workers for the rest. The objects of the unchanged files are looked for in
 * the background (`lost`, see restoreLost): every object the new catalogs name is checked to
 * exist before anything is signed. `writeback` flushes the objects (the store began flushing
 * while they were written), so that the disk writes them while the catalogs are built; the
 * commit's own flush then has little left to do.
 */
async function storeContents(
  run: PublishRun,
  tree: TreeNode,
  content: ContentStore,
  progress: Progress,
): Promise<{
  contents: Map<TreeNode, StoredContent>;
  changed: TreeNode[];
  writeback: Promise<void>;
  /** Unchanged files whose objects are missing (looked for in the background). */
  lost: Promise<TreeNode[]>;
}> {
  const files = [...walkTree(tree)].filter(isRegular);
  progress.start(
    'publishing',
    files.reduce((sum, node) => sum + node.size, 0),
  );
  const contents = new Map<TreeNode, StoredContent>();
  const changed: TreeNode[] = [];
  let succeeded = false;
  let lost: Promise<TreeNode[]> = Promise.resolve([]);
  try {
    const unchanged: TreeNode[] = [];
    for (const node of files) {
      const known = content.unchanged(node);
      if (known === undefined) changed.push(node);
      else {
        unchanged.push(node);
        contents.set(node, known);
      }
    }
    // The objects of unchanged files are looked for while the workers store the changed ones.
    const unchangedLost = run.dryRun ? undefined : lostContents(unchanged, contents, content);
    unchangedLost?.catch(() => undefined);
    // The first failure stops the workers (the queued jobs then fail at once); every job
    // settles before it is thrown, so that what the others wrote is known and removed with
    // the rest when the publish fails.
    let stopping: Promise<void> | undefined;
    let firstFailure: { error: unknown } | undefined;
    // Largest first: a large file started last would leave the other cores idle at the end.
    const bySize = [...changed].sort((a, b) => b.size - a.size);
    const settled = await Promise.allSettled(
      bySize.map(async (node) => {
        try {
          return [node, await content.content(node)] as const;
        } catch (error) {
          firstFailure ??= { error };
          stopping ??= content.close();
          throw error;
        }
      }),
    );
    await stopping;
    // The failure that came first, not one of the jobs stopped because of it.
    if (firstFailure !== undefined) throw firstFailure.error;
    for (const result of settled)
      if (result.status === 'fulfilled') contents.set(result.value[0], result.value[1]);
    succeeded = true;
    lost = unchangedLost ?? Promise.resolve([]);
  } finally {
    progress.stop(succeeded);
  }
  const writeback = run.dryRun || changed.length === 0 ? Promise.resolve() : content.writeback();
  // Awaited before the commit; a publish that fails before that must not leave it unhandled.
  writeback.catch(() => undefined);
  return { contents, changed, writeback, lost };
}

function sameContent(a: StoredContent, b: StoredContent): boolean {
  return (
    a.hash === b.hash &&
    a.compression === b.compression &&
    storedObjectHashes(a).join() === storedObjectHashes(b).join()
  );
}

/**
 * Files unchanged since the last publish whose objects the storage lost behind the spool's back
 * are stored again. True if any of them now holds other content than the spool remembered
 * (and the catalogs were built with): they must be built again.
 */
async function restoreLost(
  run: PublishRun,
  stored: Awaited<ReturnType<typeof storeContents>>,
  content: ContentStore,
): Promise<boolean> {
  const lost = await stored.lost;
  if (lost.length === 0) return false;
  run.context.logger.warn('objects the spool remembered are missing; storing them again', {
    files: lost.length,
  });
  let differs = false;
  for (const node of lost) {
    const again = await content.content(node);
    if (!sameContent(again, stored.contents.get(node)!)) {
      stored.contents.set(node, again);
      differs = true;
    }
  }
  const still = await lostContents(lost, stored.contents, content);
  if (still.length > 0)
    throw new UcvmError(
      'OBJECT_MISSING',
      `objects of ${still[0]!.source} are still missing after storing it`,
      { where: { path: still[0]!.source } },
    );
  return differs;
}

/** The nodes among `nodes` whose content objects do not exist in the storage. */
async function lostContents(
  nodes: readonly TreeNode[],
  contents: ReadonlyMap<TreeNode, StoredContent>,
  content: ContentStore,
): Promise<TreeNode[]> {
  const byObject = new Map<string, TreeNode[]>();
  for (const node of nodes) {
    const stored = contents.get(node)!;
    const suffix = stored.chunks === undefined ? '' : 'P';
    for (const hash of storedObjectHashes(stored)) {
      const name = objectPath(hash, suffix);
      const list = byObject.get(name);
      if (list === undefined) byObject.set(name, [node]);
      else list.push(node);
    }
  }
  const lost = new Set<TreeNode>();
  for (const name of await content.missing([...byObject.keys()]))
    for (const node of byObject.get(name)!) lost.add(node);
  return [...lost];
}

/** Catalogs reused from the previous revision must still exist, or the new one would not mount. */
async function ensureCatalogObjects(run: PublishRun, built: CatalogBuildResult): Promise<void> {
  const missing = await run.context.storage.missing(
    built.records.map((record) => objectPath(record.hashHex, 'C')),
  );
  if (missing.length > 0)
    throw new UcvmError(
      'OBJECT_MISSING',
      `${missing.length} catalogs of the current revision are missing from ${run.context.storage.location}`,
      {
        details: `First missing: ${missing[0]}. Nothing was signed. \`ucvm repo verify\` shows what else is gone; restore the storage from a trusted copy.`,
      },
    );
}

/** Only tags recorded as rolling at init may follow a publish. */
export function checkRollingTags(base: VerifiedBase, tags: readonly string[], fqrn: string): void {
  const rolling = rollingTagsOf(base.history);
  const fixed = tags.filter((tag) => !rolling.includes(tag));
  if (fixed.length > 0)
    throw new UcvmError('TAG_IMMUTABLE', `${fixed.join(', ')} is not a rolling tag of ${fqrn}`, {
      details: `Only the rolling tags recorded at init (${rolling.join(', ') || 'none'}) move with a publish.`,
    });
}
