import { createHash, randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChunkingOptions } from '../../cvmfs/chunking.js';
import { DEFAULT_CHUNKING } from '../../cvmfs/chunking.js';
import type { Compression } from '../../cvmfs/catalog/entry.js';
import { compress, compressParallel, compressStock } from '../../cvmfs/compression.js';
import { fqrnProblem } from '../../cvmfs/fqrn.js';
import {
  hashBytes,
  hashToHex,
  objectPath,
  type HashAlgorithm,
  type ObjectSuffix,
} from '../../cvmfs/hash.js';
import type { HistoryDatabase } from '../../cvmfs/history.js';
import { signManifest, type Manifest } from '../../cvmfs/manifest.js';
import { UcvmError } from '../../errors.js';
import {
  checkKeysOutsideStorage,
  keyPaths,
  type KeyPaths,
  type SigningKeys,
} from '../../keys/index.js';
import { silentLogger, type Logger } from '../../log.js';
import { DirectoryStorage } from '../../storage/directory.js';
import { STORAGE_ID_FILE, type RepoStorage } from '../../storage/storage.js';
import {
  fqrnOfS3Location,
  openS3Storage,
  isS3Location,
  parseS3Location,
  type S3StorageOptions,
} from '../../storage/s3/index.js';
import { DEFAULT_PARTITION, type PartitionOptions } from './partition.js';

export interface EmbeddedOptions {
  /** The served storage directory of the repository, or a bucket: `s3://<bucket>/<prefix>`. */
  storage: string;
  /** How to reach the object store of an `s3://` storage. */
  s3?: S3StorageOptions;
  /** Directory with `<fqrn>.masterkey|.pub|.key|.crt`. */
  keysDir: string;
  /** The repository name; defaults to the storage directory's name. */
  fqrn?: string;
  /** Local cache of the publisher (default `~/.cache/ucvm/spool/…`). */
  spoolDir?: string;
  logger?: Logger;
  /** How long to queue behind another writer (default 0: fail at once). */
  lockWaitMs?: number;
  algorithm?: HashAlgorithm;
  compression?: Compression;
  /** False disables chunking of large files. */
  chunking?: ChunkingOptions | false;
  partition?: PartitionOptions;
  /** Catalog TTL in seconds (default 240). */
  ttl?: number;
  /**
   * Tags that may move (the pipeline's rolling tags, e.g. HEAD), recorded in the repository at
   * init; later commands read them from the repository, never from here.
   */
  rollingTags?: readonly string[];
  xattrs?: boolean;
  now?: () => Date;
  /** Time each step of the content phase into the publish's stats (for the benchmark). */
  profile?: boolean;
}

export interface EmbeddedContext {
  fqrn: string;
  storage: RepoStorage;
  keys: KeyPaths;
  spoolDir: string;
  logger: Logger;
  lockWaitMs: number;
  algorithm: HashAlgorithm;
  compression: Compression;
  chunking: ChunkingOptions | undefined;
  partition: PartitionOptions;
  ttl: number;
  /** The rolling tags to record at init. */
  initialRollingTags: readonly string[];
  xattrs: boolean;
  now: () => Date;
  profile: boolean;
}

export function createContext(options: EmbeddedOptions): EmbeddedContext {
  const inBucket = isS3Location(options.storage);
  const storage = inBucket ? options.storage : resolve(options.storage);
  const fqrn =
    options.fqrn ??
    (inBucket
      ? fqrnOfS3Location(parseS3Location(storage))
      : storage.slice(storage.lastIndexOf('/') + 1));
  const problem = fqrnProblem(fqrn);
  if (problem !== undefined) {
    throw new UcvmError(
      'FQRN_INVALID',
      `${JSON.stringify(fqrn)} is not a valid repository name: ${problem}`,
      {
        details:
          'The storage directory is named after the repository (e.g. srv/os.example.org), or pass --fqrn.',
      },
    );
  }
  const cacheBase = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  const spoolDir =
    options.spoolDir ??
    process.env.UCVM_SPOOL_DIR ??
    join(
      cacheBase,
      'ucvm',
      'spool',
      `${fqrn}-${createHash('sha1').update(storage).digest('hex').slice(0, 12)}`,
    );
  return {
    fqrn,
    storage: inBucket ? openS3Storage(storage, options.s3) : new DirectoryStorage(storage),
    keys: keyPaths(options.keysDir, fqrn),
    spoolDir: resolve(spoolDir),
    logger: options.logger ?? silentLogger,
    lockWaitMs: options.lockWaitMs ?? 0,
    algorithm: options.algorithm ?? 'sha1',
    compression: options.compression ?? 'zlib',
    chunking: options.chunking === false ? undefined : (options.chunking ?? DEFAULT_CHUNKING),
    partition: options.partition ?? DEFAULT_PARTITION,
    ttl: options.ttl ?? 240,
    initialRollingTags: options.rollingTags ?? ['HEAD'],
    xattrs: options.xattrs ?? true,
    now: options.now ?? (() => new Date()),
    profile: options.profile ?? false,
  };
}

/** Runs `work` while holding the repository's writer lock, after cleaning up a killed writer's leftovers. */
export async function withLock<T>(
  context: EmbeddedContext,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  if (context.storage instanceof DirectoryStorage)
    await checkKeysOutsideStorage(context.keys.dir, context.storage.location);
  const lock = await context.storage.lock({
    waitMs: context.lockWaitMs,
    holder: `ucvm ${what} (pid ${process.pid})`,
    onWait: (holder) =>
      context.logger.warn('another process is writing to this repository; waiting', {
        holder,
        seconds: context.lockWaitMs / 1000,
      }),
  });
  try {
    const removed = await context.storage.cleanup();
    if (removed > 0)
      context.logger.warn('removed temporary files of an interrupted write', { count: removed });
    return await work();
  } finally {
    await lock.release();
  }
}

export interface PutOptions {
  /** Compute the hash, write nothing. */
  dryRun?: boolean;
  /** Collects the name if this call wrote the object (so a failed run can remove it). */
  written?: string[];
}

/**
 * Compresses, hashes and stores a metadata object (always zlib); returns its hash. The
 * certificate and meta-info take stock zlib's exact bytes, because replication re-creates them.
 */
export async function putMetadataObject(
  context: EmbeddedContext,
  bytes: Buffer,
  suffix: ObjectSuffix,
  options: PutOptions = {},
): Promise<string> {
  // A catalog of a large directory tree is megabytes: its parts are deflated side by side.
  const stored =
    suffix === 'X' || suffix === 'M'
      ? compressStock(bytes)
      : suffix === 'C'
        ? await compressParallel(bytes)
        : compress(bytes);
  const hashHex = hashToHex(hashBytes(context.algorithm, stored));
  const name = objectPath(hashHex, suffix);
  if (options.dryRun !== true && (await context.storage.putIfAbsent(name, stored)))
    options.written?.push(name);
  return hashHex;
}

export async function putHistory(
  context: EmbeddedContext,
  history: HistoryDatabase,
  written?: string[],
): Promise<string> {
  return putMetadataObject(context, history.serialize(), 'H', { written });
}

/**
 * The storage's identity (written at init). A storage made before identities existed gets one
 * now: call only while holding the writer lock.
 */
export async function storageIdentity(context: EmbeddedContext): Promise<string> {
  const known = (await context.storage.read(STORAGE_ID_FILE))?.toString('latin1').trim();
  if (known !== undefined && /^[0-9a-f]{32}$/.test(known)) return known;
  const created = randomBytes(16).toString('hex');
  await context.storage.replace(STORAGE_ID_FILE, Buffer.from(`${created}\n`));
  return created;
}

/**
 * Makes a revision visible: flush every object to disk, then replace the signed manifest.
 * `whileFlushing` is local work (the spool learning the revision) done while the disk catches
 * up; it must not throw.
 */
export async function commitManifest(
  context: EmbeddedContext,
  manifest: Manifest,
  keys: SigningKeys,
  whileFlushing?: () => void,
): Promise<void> {
  const flushing = context.storage.flush();
  try {
    whileFlushing?.();
  } finally {
    await flushing;
  }
  await context.storage.replace('.cvmfspublished', signManifest(manifest, keys.certificateKey));
}

/** The publisher's state cache (a SQLite file in the spool directory). */
export function cacheFile(context: EmbeddedContext): string {
  return join(context.spoolDir, 'state.db');
}

/** Unix seconds for a new manifest: now, but never earlier than the previous one (clients reject that). */
export function nextTimestamp(context: EmbeddedContext, previous: number): number {
  return Math.max(Math.floor(context.now().getTime() / 1000), previous);
}

/**
 * Removes objects a failed write alone stored (nothing references them, and they fill the
 * disk). What cannot be removed now is unreachable; `ucvm repo gc --apply` removes it later.
 */
export async function removeObjects(
  context: EmbeddedContext,
  names: readonly string[],
  what: string,
): Promise<void> {
  let removed = 0;
  for (const name of names) {
    try {
      await context.storage.remove(name);
      removed++;
    } catch {
      // Left for gc.
    }
  }
  if (removed > 0)
    context.logger.warn(`removed the objects the failed ${what} wrote`, { objects: removed });
}
