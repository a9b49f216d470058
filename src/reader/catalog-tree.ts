import type { Counters } from '../cvmfs/catalog/counters.js';
import { catalogTreeDigest } from '../cvmfs/catalog/digest.js';
import type { Repository } from './repository.js';

/** What is known of one catalog object: enough to reuse it, or to compare subtrees. */
export interface CatalogRecord {
  hashHex: string;
  mountpoint: string;
  /**
   * Tree digest: what the catalog and its subtree say, independent of revisions; `''` when not
   * computed (a publisher that knows what changed does not need it).
   */
  digest: string;
  size: number;
  revision: number;
  counters: Counters;
  children: Array<{ path: string; hashHex: string }>;
}

/** A memory of records, so that unchanged catalogs need not be read again. */
export interface CatalogRecordCache {
  catalog(hashHex: string): CatalogRecord | undefined;
  rememberCatalog(record: CatalogRecord): void;
}

/**
 * Records of every catalog below a root catalog, by mount point. With `digests: false`,
 * remembered records are taken as they are, even those without a digest.
 */
export async function describeCatalogTree(
  repository: Repository,
  rootHash: string,
  cache: CatalogRecordCache | undefined,
  options: { digests: boolean } = { digests: true },
): Promise<Map<string, CatalogRecord>> {
  const result = new Map<string, CatalogRecord>();
  async function describe(hashHex: string): Promise<CatalogRecord> {
    const known = cache?.catalog(hashHex);
    if (known !== undefined && (known.digest !== '' || !options.digests)) {
      result.set(known.mountpoint, known);
      for (const child of known.children) await describe(child.hashHex);
      return known;
    }
    const file = await repository.catalog(hashHex);
    const nested = file.nested();
    const childDigests = new Map<string, string>();
    for (const ref of nested) childDigests.set(ref.path, (await describe(ref.hashHex)).digest);
    const record: CatalogRecord = {
      hashHex,
      mountpoint: file.mountpoint,
      digest: catalogTreeDigest(file.entries(), childDigests),
      size: file.byteLength,
      revision: file.revision,
      counters: file.counters(),
      children: nested.map((ref) => ({ path: ref.path, hashHex: ref.hashHex })),
    };
    result.set(record.mountpoint, record);
    cache?.rememberCatalog(record);
    return record;
  }
  await describe(rootHash);
  return result;
}
