import { parseObjectPath } from '../../cvmfs/hash.js';
import { reachableObjects } from '../../reader/reachable.js';
import { openVerifiedBase } from './base.js';
import { cacheFile, withLock, type EmbeddedContext } from './context.js';
import { StateCache } from './state-cache.js';

/** Objects deleted per request where the store batches (S3 DeleteObjects takes 1000). */
const GC_BATCH = 1000;

export interface GcOptions {
  /** Really delete; without it, only report what would be deleted. */
  apply: boolean;
}

export interface GcReport {
  dryRun: boolean;
  tags: number;
  catalogs: number;
  reachableObjects: number;
  unreachableObjects: number;
  unreachableBytes: number;
  removedObjects: number;
  /** Up to 50 of the unreachable object paths, for the dry-run report. */
  sample: string[];
}

/**
 * Removes objects that no named snapshot (tag), nor the current manifest, can reach. Holds
 * the writer lock, so no publish adds objects meanwhile. Reachability comes from the verified
 * history only: a planted tag database must not decide what is deleted.
 */
export async function collectGarbage(
  context: EmbeddedContext,
  options: GcOptions,
): Promise<GcReport> {
  return withLock(context, 'gc', async () => {
    const { repository, history } = await openVerifiedBase(context, {
      purpose: 'reading',
    });
    try {
      const tags = history.tags();
      const reachable = await reachableObjects(
        repository,
        tags.map((tag) => tag.hashHex),
      );
      const unreachable: string[] = [];
      let unreachableBytes = 0;
      for await (const { name, size } of context.storage.list()) {
        if (reachable.paths.has(name) || parseObjectPath(name) === undefined) continue;
        unreachable.push(name);
        unreachableBytes += size;
      }
      let removedObjects = 0;
      if (options.apply && unreachable.length > 0) {
        // Forget first, delete second: a gc killed half-way must not leave the cache pointing
        // at deleted objects (the publisher trusts the cache without checking each object).
        const cache = new StateCache(cacheFile(context));
        try {
          cache.forgetObjects(new Set(unreachable.map((path) => parseObjectPath(path)!.hashHex)));
        } finally {
          cache.close();
        }
        for (let start = 0; start < unreachable.length; start += GC_BATCH) {
          const batch = unreachable.slice(start, start + GC_BATCH);
          await context.storage.removeAll(batch);
          removedObjects += batch.length;
        }
      }
      return {
        dryRun: !options.apply,
        tags: tags.length,
        catalogs: reachable.catalogs,
        reachableObjects: reachable.paths.size,
        unreachableObjects: unreachable.length,
        unreachableBytes,
        removedObjects,
        sample: unreachable.slice(0, 50),
      };
    } finally {
      repository.close();
    }
  });
}
