import { X509Certificate } from 'node:crypto';
import { selfCounters, emptyCounterSet } from '../../cvmfs/catalog/counters.js';
import { S_IFDIR } from '../../cvmfs/catalog/entry.js';
import { writeCatalog } from '../../cvmfs/catalog/sqlite.js';

import { AUTOMATIC_TAGS, tagNameProblem } from '../../cvmfs/fqrn.js';
import { isHashHex } from '../../cvmfs/hash.js';
import { HistoryDatabase, TRUNK } from '../../cvmfs/history.js';
import { signWhitelist } from '../../cvmfs/whitelist.js';
import { UcvmError } from '../../errors.js';
import { createKeys, loadMasterKey, loadSigningKeys, type SigningKeys } from '../../keys/index.js';
import { CHECKS_PROPERTY, decodeChecks, encodeChecks, withCheck } from '../../checks/record.js';
import type { CheckRequest, TagRequest, TagResult } from '../publisher.js';
import { openVerifiedBase, type VerifiedBase } from './base.js';
import {
  commitManifest,
  nextTimestamp,
  putHistory,
  putMetadataObject,
  storageIdentity,
  withLock,
  type EmbeddedContext,
} from './context.js';
import { recordRollingTags, rollingTagsOf } from './rolling-tags.js';

const HOUR = 3600_000;

function checkWhitelistDays(days: number): void {
  if (!Number.isFinite(days) || days <= 0)
    throw new UcvmError(
      'USAGE',
      `whitelist validity must be a positive number of days, got ${days}`,
    );
}

/** Signs a new whitelist with the master key, listing the repository certificate. */
async function signNewWhitelist(context: EmbeddedContext, days: number): Promise<Date> {
  checkWhitelistDays(days);
  const masterKey = await loadMasterKey(context.keys);
  const { certificatePem } = await loadSigningKeys(context.keys);
  const createdAt = context.now();
  const expiresAt = new Date(createdAt.getTime() + days * 24 * HOUR);
  const fingerprint = new X509Certificate(certificatePem).fingerprint;
  const bytes = signWhitelist(
    { fqrn: context.fqrn, createdAt, expiresAt, fingerprints: [fingerprint] },
    masterKey,
    context.algorithm,
  );
  await context.storage.replace('.cvmfswhitelist', bytes);
  return expiresAt;
}

/**
 * Renews the whitelist of an existing repository (`ucvm keys resign`). The manifest it vouches
 * for must verify and be signed by this repository's own certificate first: a renewal must
 * never make a forged revision acceptable again.
 */
export async function resignWhitelist(context: EmbeddedContext, days: number): Promise<Date> {
  checkWhitelistDays(days);
  return withLock(context, 'resign', async () => {
    // Keys made before the repository (`ucvm keys init`): there is no revision to vouch for yet.
    if (await context.storage.initialized()) {
      const { certificatePem } = await loadSigningKeys(context.keys);
      const base = await openVerifiedBase(context, { purpose: 'replacing', certificatePem });
      base.repository.close();
    }
    return signNewWhitelist(context, days);
  });
}

export interface InitOptions {
  whitelistDays: number;
  /** Create the keys if there are none (default true). */
  createKeys?: boolean;
}

/** Creates an empty, signed, mountable repository (revision 1, tag `trunk`). */
export async function initRepository(
  context: EmbeddedContext,
  options: InitOptions,
): Promise<{ rootHash: string; whitelistExpiresAt: Date }> {
  checkWhitelistDays(options.whitelistDays);
  for (const tag of context.initialRollingTags) checkTagName(tag);
  return withLock(context, 'init', async () => {
    if (await context.storage.initialized()) {
      throw new UcvmError(
        'REPO_EXISTS',
        `a repository exists already at ${context.storage.location}`,
        {
          details: 'Publish to it, or choose another directory.',
        },
      );
    }
    const keysPresent = await loadSigningKeys(context.keys).then(
      () => true,
      () => false,
    );
    if (!keysPresent) {
      if (options.createKeys === false) await loadSigningKeys(context.keys);
      // A set that a killed init left half-written is finished, not refused.
      await createKeys(context.keys.dir, context.fqrn, { complete: true });
      context.logger.info('created keys', { dir: context.keys.dir });
    }
    await storageIdentity(context);
    const whitelistExpiresAt = await signNewWhitelist(context, options.whitelistDays);
    const keys = await loadSigningKeys(context.keys);
    const now = nextTimestamp(context, 0);
    const root = {
      path: '',
      mode: S_IFDIR | 0o755,
      size: 4096,
      mtime: now,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      hardlinkGroup: 0,
      linkcount: 2,
      compression: 'zlib' as const,
      symlink: '',
    };
    const catalog = writeCatalog({
      mountpoint: '',
      entries: [root],
      nested: [],
      counters: { self: selfCounters([root], 0), subtree: emptyCounterSet() },
      properties: { revision: 1, lastModified: now, ttl: context.ttl },
    });
    const rootHash = await putMetadataObject(context, catalog, 'C');
    const certificate = await putMetadataObject(context, Buffer.from(keys.certificatePem), 'X');
    const history = HistoryDatabase.create(context.fqrn);
    recordRollingTags(history, context.initialRollingTags);
    history.put({
      name: TRUNK,
      hashHex: rootHash,
      revision: 1,
      timestamp: now,
      description: 'empty repository',
      size: catalog.length,
      branch: '',
    });
    const historyHash = await putHistory(context, history);
    await commitManifest(
      context,
      {
        rootCatalog: rootHash,
        rootCatalogSize: catalog.length,
        ttl: context.ttl,
        revision: 1,
        garbageCollectable: true,
        fqrn: context.fqrn,
        certificate,
        history: historyHash,
        publishedAt: now,
      },
      keys,
    );
    return { rootHash, whitelistExpiresAt };
  });
}

export function checkTagName(name: string): void {
  const problem = tagNameProblem(name);
  if (problem !== undefined)
    throw new UcvmError('TAG_INVALID', `invalid tag name ${JSON.stringify(name)}: ${problem}`);
  if (AUTOMATIC_TAGS.has(name))
    throw new UcvmError(
      'TAG_RESERVED',
      `${name} is maintained by the publisher and cannot be set by hand`,
    );
}

/**
 * Points a tag at a root catalog that is already published: a new history database and a
 * re-signed manifest with the same revision (as `cvmfs_server tag -a -h`); no catalog is written.
 */
export async function moveTag(context: EmbeddedContext, request: TagRequest): Promise<TagResult> {
  checkTagName(request.name);
  return withLock(context, 'tag', async () => {
    const keys = await loadSigningKeys(context.keys);
    const base = await openVerifiedBase(context, {
      purpose: 'signing',
      certificatePem: keys.certificatePem,
    });
    const { repository, history } = base;
    try {
      const targetTag = history.get(request.target);
      const rootHash =
        targetTag?.hashHex ?? (isHashHex(request.target) ? request.target : undefined);
      if (rootHash === undefined)
        throw new UcvmError('TAG_NOT_FOUND', `no tag ${request.target} in ${context.fqrn}`);
      const root = await repository.catalog(rootHash);
      if (root.mountpoint !== '')
        throw new UcvmError('USAGE', `${rootHash} is a nested catalog, not a root catalog`);
      const existing = history.get(request.name);
      if (existing?.hashHex === rootHash) {
        return {
          name: request.name,
          rootHash,
          revision: existing.revision,
          previousRootHash: rootHash,
          unchanged: true,
        };
      }
      const rolling = rollingTagsOf(history);
      if (existing !== undefined && !rolling.includes(request.name)) {
        throw new UcvmError(
          'TAG_IMMUTABLE',
          `tag ${request.name} exists and points to other content`,
          {
            details: `Named snapshots never change. Only the rolling tags of ${context.fqrn} (${rolling.join(', ')}, recorded at init) move.`,
          },
        );
      }
      history.put({
        name: request.name,
        hashHex: rootHash,
        revision: root.revision,
        timestamp: root.lastModified,
        description: request.description ?? targetTag?.description ?? '',
        size: root.byteLength,
        branch: '',
      });
      await resignWithHistory(context, base, keys);
      return {
        name: request.name,
        rootHash,
        revision: root.revision,
        previousRootHash: existing?.hashHex,
        unchanged: false,
      };
    } finally {
      repository.close();
    }
  });
}

export async function recordCheck(context: EmbeddedContext, request: CheckRequest): Promise<void> {
  await withLock(context, 'check', async () => {
    const keys = await loadSigningKeys(context.keys);
    const base = await openVerifiedBase(context, {
      purpose: 'signing',
      certificatePem: keys.certificatePem,
    });
    try {
      const tag = base.history.get(request.tag);
      if (tag === undefined)
        throw new UcvmError('TAG_NOT_FOUND', `no tag ${request.tag} in ${context.fqrn}`);
      const records = withCheck(
        decodeChecks(base.history.property(CHECKS_PROPERTY)),
        request.tag,
        request.name,
        {
          passed: request.passed,
          at: context.now().toISOString(),
          root: tag.hashHex,
          ...(request.details !== undefined && { details: request.details.slice(0, 500) }),
        },
        new Set(base.history.tags().map((existing) => existing.name)),
      );
      base.history.setProperty(CHECKS_PROPERTY, encodeChecks(records));
      await resignWithHistory(context, base, keys);
    } finally {
      base.repository.close();
    }
  });
}

export async function removeTag(context: EmbeddedContext, name: string): Promise<void> {
  checkTagName(name);
  await withLock(context, 'untag', async () => {
    const keys = await loadSigningKeys(context.keys);
    const base = await openVerifiedBase(context, {
      purpose: 'signing',
      certificatePem: keys.certificatePem,
    });
    try {
      if (!base.history.remove(name))
        throw new UcvmError('TAG_NOT_FOUND', `no tag ${name} in ${context.fqrn}`);
      await resignWithHistory(context, base, keys);
    } finally {
      base.repository.close();
    }
  });
}

async function resignWithHistory(
  context: EmbeddedContext,
  { repository, history }: VerifiedBase,
  keys: SigningKeys,
): Promise<void> {
  const previous = repository.manifest;
  if (previous.history !== undefined) history.setProperty('previous_revision', previous.history);
  const historyHash = await putHistory(context, history);
  const certificate = await putMetadataObject(context, Buffer.from(keys.certificatePem), 'X');
  await commitManifest(
    context,
    {
      ...previous,
      history: historyHash,
      certificate,
      publishedAt: nextTimestamp(context, previous.publishedAt),
    },
    keys,
  );
}
