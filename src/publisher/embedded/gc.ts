import { parseObjectPath } from '../../cvmfs/hash.js';
import { reachableObjects } from '../../reader/reachable.js';
import { cacheFile, openCurrent, withLock, type EmbeddedContext } from './context.js';
import { StateCache } from './state-cache.js';

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
 * the writer lock, so no publish adds objects meanwhile.
 */
export async function collectGarbage(
  context: EmbeddedContext,
  options: GcOptions,
): Promise<GcReport> {
  return withLock(context, 'gc', async () => {
    const repository = await openCurrent(context);
    try {
      const tags = await repository.tags();
      const reachable = await reachableObjects(
        repository,
        tags.map((tag) => tag.hashHex),
      );
      const unreachable: string[] = [];
      let unreachableBytes = 0;
      for await (const path of context.store.listObjects()) {
        if (reachable.paths.has(path) || parseObjectPath(path) === undefined) continue;
        unreachable.push(path);
        unreachableBytes += await context.store.objectSize(path);
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
        for (const path of unreachable) {
          await context.store.removeObject(path);
          removedObjects++;
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
