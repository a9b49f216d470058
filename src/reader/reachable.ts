import { objectPath } from '../cvmfs/hash.js';
import type { Repository } from './repository.js';

export interface ReachableObjects {
  /** Object paths (`data/xx/…<suffix>`) reachable from the given roots and the manifest. */
  paths: Set<string>;
  catalogs: number;
}

/**
 * Everything a client may need to mount any of the given root catalogs, plus the objects the
 * current manifest names. A catalog seen once is not descended again: the same hash means the
 * same subtree.
 */
export async function reachableObjects(
  repository: Repository,
  roots: Iterable<string>,
): Promise<ReachableObjects> {
  const paths = new Set<string>();
  const seenCatalogs = new Set<string>();
  const { manifest } = repository;
  paths.add(objectPath(manifest.certificate, 'X'));
  if (manifest.history !== undefined) paths.add(objectPath(manifest.history, 'H'));
  if (manifest.metaInfo !== undefined) paths.add(objectPath(manifest.metaInfo, 'M'));
  const queue = [manifest.rootCatalog, ...roots];
  while (queue.length > 0) {
    const hashHex = queue.pop()!;
    if (seenCatalogs.has(hashHex)) continue;
    seenCatalogs.add(hashHex);
    paths.add(objectPath(hashHex, 'C'));
    const catalog = await repository.catalog(hashHex);
    for (const object of catalog.objectHashes())
      paths.add(objectPath(object.hashHex, object.suffix));
    for (const nested of catalog.nested()) queue.push(nested.hashHex);
    repository.forgetCatalog(hashHex);
  }
  return { paths, catalogs: seenCatalogs.size };
}
