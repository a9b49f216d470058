import type { KeyObject } from 'node:crypto';
import pLimit from 'p-limit';
import { COUNTER_FIELDS, selfCounters } from '../cvmfs/catalog/counters.js';
import { entryKind } from '../cvmfs/catalog/entry.js';
import { pathHash } from '../cvmfs/catalog/path-hash.js';
import { CATALOG_SCHEMA, CATALOG_SCHEMA_REVISION } from '../cvmfs/catalog/schema.js';
import { parseObjectPath } from '../cvmfs/hash.js';
import { TRUNK } from '../cvmfs/history.js';
import { isUcvmError } from '../errors.js';
import type { Repository } from './repository.js';
import { fqrnOfLocation } from './source.js';

const READABLE_REVISIONS = new Set(['6', String(CATALOG_SCHEMA_REVISION)]);

export interface VerifyOptions {
  /** Master public keys; without them the whitelist signature cannot be checked (a warning). */
  masterKeys: readonly KeyObject[];
  now: Date;
  fqrn?: string;
  /** Download and hash every reachable object (default true). */
  objects?: boolean;
}

export interface VerifyReport {
  ok: boolean;
  problems: string[];
  warnings: string[];
  revision: number;
  tags: number;
  catalogs: number;
  objects: number;
  whitelistExpiresAt: string | undefined;
}

/**
 * Checks a repository as a client and `cvmfs_server check` would: the signature chain and
 * whitelist expiry, the structure of every catalog reachable from every tag, and that every
 * object they reference exists and matches its hash.
 */
export async function verifyRepository(
  repository: Repository,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const signatures = await repository.verifySignatures(
    options.masterKeys,
    options.now,
    options.fqrn ?? fqrnOfLocation(repository.source.location),
  );
  problems.push(...signatures.problems);
  // Without the master key nothing proves who signed the whitelist: that is not "verified".
  if (!signatures.whitelistSignatureChecked)
    problems.push('no master public key given: the whitelist signature cannot be checked');

  const tags = await repository.tags();
  const { manifest } = repository;
  const trunk = tags.find((tag) => tag.name === TRUNK);
  if (trunk !== undefined && trunk.hashHex !== manifest.rootCatalog)
    problems.push(
      `tag trunk (${trunk.hashHex}) is not the manifest's root catalog (${manifest.rootCatalog})`,
    );

  // A tag's revision is its root catalog's own. The manifest's may be higher: a promoted
  // snapshot keeps its catalogs (and their revision) while the revision count goes on.
  const roots = new Map<string, number | undefined>(
    tags.map((tag): [string, number] => [tag.hashHex, tag.revision]),
  );
  if (!roots.has(manifest.rootCatalog)) roots.set(manifest.rootCatalog, undefined);
  const objects = new Set<string>();
  const seen = new Set<string>();
  const declaredSizes = new Map<string, number>(tags.map((tag) => [tag.hashHex, tag.size]));
  for (const [rootHash, revision] of roots) {
    const queue: Array<{ hashHex: string; mountpoint: string }> = [
      { hashHex: rootHash, mountpoint: '' },
    ];
    while (queue.length > 0) {
      const { hashHex, mountpoint } = queue.pop()!;
      if (seen.has(hashHex)) continue;
      seen.add(hashHex);
      objects.add(`data/${hashHex.slice(0, 2)}/${hashHex.slice(2)}C`);
      try {
        const catalog = await repository.catalog(hashHex, declaredSizes.get(hashHex));
        const where = `catalog ${hashHex} (${mountpoint === '' ? '/' : mountpoint})`;
        if (catalog.properties.get('schema') !== CATALOG_SCHEMA)
          problems.push(`${where}: schema ${catalog.properties.get('schema')}`);
        // Revision 6 (cvmfs_server 2.11 writes it) differs only by the missing mtimens column.
        if (!READABLE_REVISIONS.has(catalog.properties.get('schema_revision') ?? ''))
          problems.push(`${where}: schema revision ${catalog.properties.get('schema_revision')}`);
        if (catalog.mountpoint !== mountpoint)
          problems.push(`${where}: root_prefix is ${JSON.stringify(catalog.mountpoint)}`);
        if (mountpoint === '' && revision !== undefined && catalog.revision !== revision)
          problems.push(`${where}: revision ${catalog.revision}, tagged as ${revision}`);
        if (hashHex === manifest.rootCatalog && catalog.revision > manifest.revision)
          problems.push(
            `${where}: revision ${catalog.revision} is above the manifest's ${manifest.revision} (clients following the newest revision would not update)`,
          );
        const rows = catalog.rowStats();
        const root = pathHash(mountpoint);
        if (rows.firstRowPath[0] !== root.high || rows.firstRowPath[1] !== root.low)
          problems.push(`${where}: the root entry is not row 1`);
        const entries = catalog.entries();
        if (entries.length !== rows.count)
          problems.push(
            `${where}: ${rows.count - entries.length} entries are not reachable from its root`,
          );
        for (const entry of entries) {
          if (entryKind(entry) === 'directory' && entry.nestedMountpoint !== true) {
            const subdirs = catalog
              .list(entry.path)
              .filter((child) => entryKind(child) === 'directory').length;
            if (entry.linkcount !== 2 + subdirs)
              problems.push(
                `${where}: ${entry.path || '/'} has link count ${entry.linkcount}, expected ${2 + subdirs}`,
              );
          }
        }
        const counted = selfCounters(entries, catalog.nested().length);
        const stored = catalog.counters().self;
        for (const field of COUNTER_FIELDS) {
          if (counted[field] !== stored[field])
            problems.push(
              `${where}: statistics self_${field} is ${stored[field]}, counted ${counted[field]}`,
            );
        }
        for (const object of catalog.objectHashes())
          objects.add(
            `data/${object.hashHex.slice(0, 2)}/${object.hashHex.slice(2)}${object.suffix}`,
          );
        for (const ref of catalog.nested()) {
          declaredSizes.set(ref.hashHex, ref.size);
          queue.push({ hashHex: ref.hashHex, mountpoint: ref.path });
        }
      } catch (error) {
        problems.push(
          isUcvmError(error) ? error.message : `catalog ${hashHex}: ${(error as Error).message}`,
        );
      } finally {
        repository.forgetCatalog(hashHex);
      }
    }
  }
  objects.add(`data/${manifest.certificate.slice(0, 2)}/${manifest.certificate.slice(2)}X`);
  if (manifest.history !== undefined)
    objects.add(`data/${manifest.history.slice(0, 2)}/${manifest.history.slice(2)}H`);

  if (options.objects !== false) {
    const limit = pLimit(16);
    await Promise.all(
      [...objects].map((path) =>
        limit(async () => {
          const parsed = parseObjectPath(path)!;
          try {
            await repository.checkObject(parsed.hashHex, parsed.suffix);
          } catch (error) {
            problems.push(
              isUcvmError(error) ? error.message : `${path}: ${(error as Error).message}`,
            );
          }
        }),
      ),
    );
  }
  problems.sort();
  return {
    ok: problems.length === 0,
    problems,
    warnings,
    revision: manifest.revision,
    tags: tags.length,
    catalogs: seen.size,
    objects: objects.size,
    whitelistExpiresAt: signatures.whitelistExpiresAt?.toISOString(),
  };
}
