import { resolve } from 'node:path';
import { objectPath } from '../../cvmfs/hash.js';
import { automaticTagName } from '../../cvmfs/fqrn.js';
import { UcvmError } from '../../errors.js';
import { loadSigningKeys, type SigningKeys } from '../../keys/index.js';
import { deferredProgress, silentProgress, type Progress } from '../../log.js';
import { describeCatalogTree } from '../../reader/catalog-tree.js';
import type { PublishRequest, PublishResult, PublishStats } from '../publisher.js';
import { checkTagName } from './admin.js';
import { openVerifiedBase, type VerifiedBase } from './base.js';
import { buildCatalogs, type CatalogBuildResult } from './catalogs.js';
import { entryChanges, publishedSource } from './changes.js';
import { ContentFeed, restoreLost } from './content-feed.js';
import { ContentStore } from './content.js';
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
import { scanTree, treeInvalid } from './scan.js';
import { signNewRevision } from './sign-revision.js';
import { StateCache } from './state-cache.js';
import { walkTree, type TreeNode } from './tree.js';
import { attachXattrs, readXattrsOf } from './xattrs.js';

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
  const contentProgress = deferredProgress(progress);
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
    contentProgress,
  );
  run.content = content;
  content.start();
  const previousManifest = base.repository.manifest;
  // The stamps describe the previous revision row for row only if it is what this spool
  // last published from this tree; then what changed is known without comparing catalogs.
  const last = cache.lastPublished();
  const source = publishedSource(context, treeRoot);
  const knowsChanges =
    run.immutableTag === undefined &&
    last?.tree === source &&
    last.rootCatalog === previousManifest.rootCatalog;
  // The root catalog is then patched: it is read and inflated during the scan, off this thread.
  const rootBase = knowsChanges
    ? base.repository.inflatedObject(previousManifest.rootCatalog, 'C').catch(() => undefined)
    : undefined;
  // The stamps are known before the scan: files go to the workers as the scan finds them.
  // The objects of the files they describe are looked for before signing.
  content.expectChecks(cache.loadTree(treeRoot));
  // Extended attributes changed only where stamps did: those alone are read, after the scan.
  const xattrsOfChanges = context.xattrs && knowsChanges;
  const feed = new ContentFeed(content, contentProgress, run.dryRun);
  context.logger.info('scanning tree', { tree: treeRoot });
  let tree: TreeNode;
  try {
    tree = await scanTree(treeRoot, {
      xattrs: context.xattrs && !xattrsOfChanges,
      onFile: (node) => feed.add(node),
    });
  } catch (error) {
    await feed.abandon(new Error('the scan of the tree failed'));
    throw error;
  }
  // The entries' extended attributes are final once the scan has read them: the spool may
  // write what it learns while the rest of the contents are stored.
  if (!xattrsOfChanges) cache.allowWriteAhead();
  // The changed files' attributes are read while the contents are finished and the other
  // changes are looked for (a file rewritten in place is most of what changes).
  const filesRead = xattrsOfChanges ? readXattrsAhead(feed.changedFiles) : undefined;
  // Awaited below; a publish that fails before that must not leave it unhandled.
  filesRead?.catch(() => undefined);
  const mountpoints = partitionTree(tree, context.partition);
  for (const marker of addAutoCatalogMarkers(tree, mountpoints)) feed.add(marker);
  // The other changes are known from the stamps: looked for while the workers finish.
  const { changedNodes, removed } = entryChanges(tree, treeRoot, new Set(feed.changedFiles), cache);
  const stored = await feed.finish();
  if (filesRead !== undefined)
    await readChangedXattrs(tree, treeRoot, changedNodes, cache, await filesRead);
  else if (context.xattrs) cache.rememberXattrs(sourcedNodes(tree));
  const previous = await describeCatalogTree(base.repository, previousManifest.rootCatalog, cache, {
    digests: !knowsChanges,
  });
  const revision = previousManifest.revision + 1;
  const publishedAt = nextTimestamp(context, previousManifest.publishedAt);
  const build = (catalogsBefore: typeof previous, changes: boolean): Promise<CatalogBuildResult> =>
    buildCatalogs({
      tree,
      mountpoints,
      previous: catalogsBefore,
      revision,
      now: publishedAt,
      ttl: context.ttl,
      algorithm: context.algorithm,
      // Checking an existing tag compares the trees by digest.
      rootDigest: run.immutableTag !== undefined,
      store: (bytes) =>
        putMetadataObject(context, bytes, 'C', { dryRun: run.dryRun, written: run.written }),
      ...(changes && {
        changes: {
          changed: changedNodes,
          removed,
          base: (record) =>
            record.hashHex === previousManifest.rootCatalog && rootBase !== undefined
              ? rootBase
              : base.repository.inflatedObject(record.hashHex, 'C').catch(() => undefined),
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
  if (await restoreLost(stored, content, context.logger)) {
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

function* sourcedNodes(tree: TreeNode): Generator<TreeNode> {
  for (const node of walkTree(tree)) if (node.source !== '') yield node;
}

/** Extended attributes read ahead of the others: of which entries, and what they have. */
interface XattrsRead {
  of: ReadonlySet<TreeNode>;
  found: Awaited<ReturnType<typeof readXattrsOf>>;
}

/** Reads the attributes of `nodes` (as they are now) in the background; see readChangedXattrs. */
function readXattrsAhead(nodes: readonly TreeNode[]): Promise<XattrsRead> {
  const of = new Set(nodes.filter((node) => node.source !== ''));
  return readXattrsOf([...of].map((node) => node.source)).then((found) => ({ of, found }));
}

/**
 * The extended attributes of the entries whose stamps changed are read (those in `ahead`
 * were); the others keep what the spool recorded at the last publish (any change of them
 * changes the ctime, so the stamp).
 */
async function readChangedXattrs(
  tree: TreeNode,
  treeRoot: string,
  changed: ReadonlySet<TreeNode>,
  cache: StateCache,
  ahead: XattrsRead,
): Promise<void> {
  const fresh = [...changed].filter((node) => node.source !== '');
  const rest = fresh.filter((node) => !ahead.of.has(node));
  const found =
    rest.length === 0
      ? ahead.found
      : new Map([...ahead.found, ...(await readXattrsOf(rest.map((node) => node.source)))]);
  const problems: string[] = [];
  attachXattrs(fresh, found, problems);
  if (problems.length > 0) throw treeInvalid(treeRoot, problems);
  // Most trees have none: no walk over every entry then.
  if (!cache.recordsXattrs) return;
  for (const node of sourcedNodes(tree))
    if (!changed.has(node)) node.xattrs = cache.recordedXattrs(node.source);
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
