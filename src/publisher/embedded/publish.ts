import { resolve } from 'node:path';
import { parentPath } from '../../cvmfs/catalog/path-hash.js';
import { automaticTagName } from '../../cvmfs/fqrn.js';
import { HistoryDatabase, TRUNK, TRUNK_PREVIOUS } from '../../cvmfs/history.js';
import { UcvmError } from '../../errors.js';
import { loadSigningKeys } from '../../keys/index.js';
import { silentProgress, type Progress } from '../../log.js';
import { describeCatalogTree } from '../../reader/catalog-tree.js';
import type { PublishRequest, PublishResult } from '../publisher.js';
import { checkTagName, checkWhitelist } from './admin.js';
import { buildCatalogs } from './catalogs.js';
import { ContentStore, type StoredContent } from './content.js';
import {
  cacheFile,
  commitManifest,
  nextTimestamp,
  openCurrent,
  putHistory,
  putMetadataObject,
  withLock,
  type EmbeddedContext,
} from './context.js';
import { addAutoCatalogMarkers, partitionTree } from './partition.js';
import { scanTree } from './scan.js';
import { stampOf, StateCache } from './state-cache.js';
import { isDirectory, isRegular, walkTree, type TreeNode } from './tree.js';

/**
 * Publishes a directory tree as a new revision: content objects, then catalogs leaves
 * first, then the history, and last the signed manifest. Until the manifest is replaced
 * nothing a client can see has changed, so a publish killed at any point leaves the previous
 * revision intact; the next run cleans up and, thanks to content addressing, reuses every
 * object that was already written.
 */
export async function publishTree(
  context: EmbeddedContext,
  request: PublishRequest,
  progress: Progress = silentProgress,
): Promise<PublishResult> {
  const started = Date.now();
  if (request.tag !== undefined) checkTagName(request.tag);
  const treeRoot = resolve(request.tree);
  return withLock(context, 'publish', async () => {
    const repository = await openCurrent(context);
    const cache = new StateCache(cacheFile(context));
    let stopWorkers: () => Promise<void> = () => Promise.resolve();
    try {
      const keys = await loadSigningKeys(context.keys);
      await checkWhitelist(context, repository, keys.certificatePem);
      const history = (await repository.history()) ?? HistoryDatabase.create(context.fqrn);
      const existing = request.tag === undefined ? undefined : history.get(request.tag);
      const immutable = existing !== undefined && !context.rollingTags.has(existing.name);
      // An existing named tag may only be "published again" with identical content: check without writing.
      const dryRun = request.dryRun === true || immutable;

      const content = new ContentStore(
        {
          storageRoot: context.store.root,
          algorithm: context.algorithm,
          compression: context.compression,
          chunking: context.chunking,
          dryRun,
          statePath: cacheFile(context),
        },
        cache,
        progress,
      );
      content.start();
      stopWorkers = () => content.close();
      context.logger.info('scanning tree', { tree: treeRoot });
      const tree = await scanTree(treeRoot, { xattrs: context.xattrs });
      const mountpoints = partitionTree(tree, context.partition);
      addAutoCatalogMarkers(tree, mountpoints);
      cache.loadTree(treeRoot);

      const files = [...walkTree(tree)].filter(isRegular);
      const totalBytes = files.reduce((sum, node) => sum + node.size, 0);
      progress.start('publishing', totalBytes);
      const contents = new Map<TreeNode, StoredContent>();
      const changed: TreeNode[] = [];
      try {
        const unchanged: Array<readonly [TreeNode, StoredContent]> = [];
        for (const node of files) {
          const known = content.unchanged(node);
          if (known === undefined) changed.push(node);
          else unchanged.push([node, known]);
        }
        const stored = await Promise.all(
          changed.map(async (node) => [node, await content.content(node)] as const),
        );
        for (const [node, value] of [...unchanged, ...stored]) contents.set(node, value);
      } finally {
        progress.stop();
      }
      await content.close();

      const previousManifest = repository.manifest;
      // The stamps describe the previous revision row for row only if it is what this spool
      // last published from this tree; then what changed is known without comparing catalogs.
      const last = cache.lastPublished();
      const source = publishedSource(context, treeRoot);
      const knowsChanges =
        !immutable && last?.tree === source && last.rootCatalog === previousManifest.rootCatalog;
      const { changedNodes, removed } = entryChanges(tree, treeRoot, new Set(changed), cache);
      const previous = await describeCatalogTree(repository, previousManifest.rootCatalog, cache, {
        digests: !knowsChanges,
      });
      const revision = previousManifest.revision + 1;
      const publishedAt = nextTimestamp(context, previousManifest.publishedAt);
      const built = await buildCatalogs({
        tree,
        mountpoints,
        contents,
        previous,
        revision,
        now: publishedAt,
        ttl: context.ttl,
        algorithm: context.algorithm,
        store: (bytes) => putMetadataObject(context, bytes, 'C', dryRun),
        ...(knowsChanges && {
          changes: {
            changed: changedNodes,
            removed,
            base: (record) => repository.inflatedObject(record.hashHex, 'C').catch(() => undefined),
          },
        }),
        patchFailed: (mountpoint, error) =>
          context.logger.warn('catalog could not be patched; writing it afresh', {
            mountpoint: mountpoint || '/',
            problem: error.message,
          }),
      });
      const stats = {
        ...content.stats,
        catalogsWritten: built.written,
        catalogsReused: built.reused,
        catalogsPatched: built.patched,
        seconds: 0,
      };

      if (immutable) {
        const tagged = await describeCatalogTree(repository, existing.hashHex, cache);
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
        stats.seconds = (Date.now() - started) / 1000;
        return {
          fqrn: context.fqrn,
          revision: existing.revision,
          rootHash: existing.hashHex,
          tag: existing.name,
          unchanged: true,
          dryRun: request.dryRun === true,
          stats,
        };
      }

      const tagName =
        request.tag ?? automaticTagName(context.now(), (name) => history.get(name) !== undefined);
      if (dryRun) {
        stats.seconds = (Date.now() - started) / 1000;
        return {
          fqrn: context.fqrn,
          revision,
          rootHash: built.root.hashHex,
          tag: tagName,
          unchanged: false,
          dryRun: true,
          stats,
        };
      }

      const trunk = history.get(TRUNK);
      if (trunk !== undefined)
        history.put({ ...trunk, name: TRUNK_PREVIOUS, description: 'default undo target' });
      const tagged = {
        hashHex: built.root.hashHex,
        revision,
        timestamp: publishedAt,
        size: built.root.size,
        branch: '',
      };
      history.put({ ...tagged, name: TRUNK, description: 'current HEAD' });
      history.put({ ...tagged, name: tagName, description: request.description ?? '' });
      if (previousManifest.history !== undefined)
        history.setProperty('previous_revision', previousManifest.history);
      const historyHash = await putHistory(context, history);
      const certificate = await putMetadataObject(context, Buffer.from(keys.certificatePem), 'X');
      await commitManifest(
        context,
        {
          rootCatalog: built.root.hashHex,
          rootCatalogSize: built.root.size,
          ttl: context.ttl,
          revision,
          garbageCollectable: true,
          fqrn: context.fqrn,
          certificate,
          history: historyHash,
          publishedAt,
        },
        keys,
      );
      for (const record of built.records) cache.rememberCatalog(record);
      cache.commit({ tree: source, rootCatalog: built.root.hashHex });
      stats.seconds = (Date.now() - started) / 1000;
      context.logger.info('published', { revision, tag: tagName, root: built.root.hashHex });
      return {
        fqrn: context.fqrn,
        revision,
        rootHash: built.root.hashHex,
        tag: tagName,
        unchanged: false,
        dryRun: false,
        stats,
      };
    } finally {
      await stopWorkers();
      cache.close();
      repository.close();
    }
  });
}

/**
 * What the stamps were taken of: the tree, and the settings that shape rows beyond the stamps
 * (extended attributes read or not, hash, compression, chunking).
 */
function publishedSource(context: EmbeddedContext, treeRoot: string): string {
  const { xattrs, algorithm, compression, chunking } = context;
  return JSON.stringify({ tree: treeRoot, xattrs, algorithm, compression, chunking });
}

/**
 * The nodes whose rows may have changed since the stamps were taken (changed regular files are
 * `changedFiles`; a synthetic catalog marker counts when its directory changed), and the
 * repository paths of entries gone since. Remembers the new stamps of other entries for the
 * next publish.
 */
function entryChanges(
  tree: TreeNode,
  treeRoot: string,
  changedFiles: ReadonlySet<TreeNode>,
  cache: StateCache,
): { changedNodes: Set<TreeNode>; removed: string[] } {
  const changedNodes = new Set<TreeNode>();
  const changedDirectories = new Set<string>();
  const present = new Set<string>();
  for (const node of walkTree(tree)) {
    // A catalog marker the publisher adds takes its directory's attributes.
    if (node.source === '') {
      if (changedDirectories.has(parentPath(node.path))) changedNodes.add(node);
      continue;
    }
    present.add(node.source);
    if (isRegular(node)) {
      if (changedFiles.has(node)) changedNodes.add(node);
      continue;
    }
    const stamp = stampOf(node);
    if (!cache.sameStamp(node.source, stamp)) {
      changedNodes.add(node);
      if (isDirectory(node)) changedDirectories.add(node.path);
      cache.rememberEntry(node.source, stamp);
    }
  }
  const removed = cache
    .removedEntries((source) => present.has(source))
    .map((source) => source.slice(treeRoot.length));
  return { changedNodes, removed };
}
