/**
 * Repositories in S3-compatible buckets. The AWS SDK takes about 0.4 s to load, so nothing here
 * loads it until a bucket is actually used: a command on a directory never pays for it.
 */
import type { ReadOptions, RepoSource } from '../../reader/source.js';
import type { LockRequest, RepoStorage, WriterLock } from '../storage.js';
import { formatS3Location, parseS3Location, type S3Connection } from './location.js';
import type { S3StorageOptions } from './storage.js';

export {
  fqrnOfS3Location,
  formatS3Location,
  isS3Location,
  LEASE_NAME,
  parseS3Location,
  type S3Connection,
  type S3Location,
} from './location.js';
export type { S3StorageOptions } from './storage.js';

/** A bucket repository's storage; the SDK is loaded on its first use. */
export function openS3Storage(location: string, options: S3StorageOptions = {}): RepoStorage {
  const where = formatS3Location(parseS3Location(location));
  let loaded: Promise<RepoStorage> | undefined;
  const real = (): Promise<RepoStorage> =>
    (loaded ??= import('./storage.js').then(({ S3Storage }) => new S3Storage(location, options)));
  return {
    location: where,
    source: () => lazySource(where, async () => (await real()).source()),
    prepare: async () => (await real()).prepare(),
    initialized: async () => (await real()).initialized(),
    read: async (name) => (await real()).read(name),
    missing: async (names) => (await real()).missing([...names]),
    putIfAbsent: async (name, bytes) => (await real()).putIfAbsent(name, bytes),
    replace: async (name, bytes) => (await real()).replace(name, bytes),
    remove: async (name) => (await real()).remove(name),
    removeAll: async (names) => (await real()).removeAll(names),
    async *list() {
      yield* (await real()).list();
    },
    flush: async () => (await real()).flush(),
    lock: async (request: LockRequest): Promise<WriterLock> => (await real()).lock(request),
    cleanup: async () => (await real()).cleanup(),
    workerTarget: () => undefined,
  };
}

/** Reads a bucket repository through the S3 API (with credentials: the bucket need not be public). */
export function openS3Source(location: string, connection: S3Connection): RepoSource {
  const where = formatS3Location(parseS3Location(location));
  return lazySource(where, async () => {
    const [{ createS3Client }, { s3Source }] = await Promise.all([
      import('./client.js'),
      import('./source.js'),
    ]);
    return s3Source(createS3Client(connection), parseS3Location(location));
  });
}

function lazySource(location: string, load: () => Promise<RepoSource>): RepoSource {
  let loaded: Promise<RepoSource> | undefined;
  const real = (): Promise<RepoSource> => (loaded ??= load());
  return {
    location,
    read: async (relative: string, options?: ReadOptions) => (await real()).read(relative, options),
    stream: async (relative: string, options?: ReadOptions) =>
      (await real()).stream(relative, options),
    has: async (relative: string) => (await real()).has(relative),
  };
}
