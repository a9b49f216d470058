import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChunkingOptions } from '../../cvmfs/chunking.js';
import { DEFAULT_CHUNKING } from '../../cvmfs/chunking.js';
import type { Compression } from '../../cvmfs/catalog/entry.js';
import { compress } from '../../cvmfs/compression.js';
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
import { keyPaths, type KeyPaths, type SigningKeys } from '../../keys/index.js';
import { silentLogger, type Logger } from '../../log.js';
import { Repository } from '../../reader/repository.js';
import { directorySource } from '../../reader/source.js';
import { acquireRepoLock, LOCK_FILE, LOCK_HOLDER_FILE } from './lock.js';
import { DEFAULT_PARTITION, type PartitionOptions } from './partition.js';
import { RepoStore } from './store.js';

export interface EmbeddedOptions {
  /** The served storage directory of the repository. */
  storage: string;
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
  /** Tags that may move (the pipeline's rolling tags, e.g. HEAD). */
  rollingTags?: readonly string[];
  xattrs?: boolean;
  now?: () => Date;
}

export interface EmbeddedContext {
  fqrn: string;
  store: RepoStore;
  keys: KeyPaths;
  spoolDir: string;
  logger: Logger;
  lockWaitMs: number;
  algorithm: HashAlgorithm;
  compression: Compression;
  chunking: ChunkingOptions | undefined;
  partition: PartitionOptions;
  ttl: number;
  rollingTags: ReadonlySet<string>;
  xattrs: boolean;
  now: () => Date;
}

export function createContext(options: EmbeddedOptions): EmbeddedContext {
  const storage = resolve(options.storage);
  const fqrn = options.fqrn ?? storage.slice(storage.lastIndexOf('/') + 1);
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
    store: new RepoStore(storage),
    keys: keyPaths(options.keysDir, fqrn),
    spoolDir: resolve(spoolDir),
    logger: options.logger ?? silentLogger,
    lockWaitMs: options.lockWaitMs ?? 0,
    algorithm: options.algorithm ?? 'sha1',
    compression: options.compression ?? 'zlib',
    chunking: options.chunking === false ? undefined : (options.chunking ?? DEFAULT_CHUNKING),
    partition: options.partition ?? DEFAULT_PARTITION,
    ttl: options.ttl ?? 240,
    rollingTags: new Set(options.rollingTags ?? ['HEAD']),
    xattrs: options.xattrs ?? true,
    now: options.now ?? (() => new Date()),
  };
}

/** Runs `work` while holding the repository's writer lock, after cleaning up a killed writer's leftovers. */
export async function withLock<T>(
  context: EmbeddedContext,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  await context.store.createSkeleton();
  const lock = await acquireRepoLock(
    join(context.store.txnDir, LOCK_FILE),
    join(context.store.txnDir, LOCK_HOLDER_FILE),
    {
      waitMs: context.lockWaitMs,
      holder: `ucvm ${what} (pid ${process.pid})`,
    },
  );
  try {
    const removed = await context.store.removeStaleTemporaries(
      new Set([LOCK_FILE, `${LOCK_FILE}-journal`, LOCK_HOLDER_FILE]),
    );
    if (removed > 0)
      context.logger.warn('removed temporary files of an interrupted write', { count: removed });
    return await work();
  } finally {
    lock.release();
  }
}

export async function openCurrent(context: EmbeddedContext): Promise<Repository> {
  const repository = await Repository.open(directorySource(context.store.root));
  if (repository.manifest.fqrn !== context.fqrn) {
    throw new UcvmError(
      'REPO_CORRUPT',
      `${context.store.root} holds repository ${repository.manifest.fqrn}, not ${context.fqrn}`,
    );
  }
  return repository;
}

/** Compresses, hashes and stores a metadata object (always zlib); returns its hash. */
export async function putMetadataObject(
  context: EmbeddedContext,
  bytes: Buffer,
  suffix: ObjectSuffix,
  dryRun = false,
): Promise<string> {
  const stored = compress(bytes);
  const hashHex = hashToHex(hashBytes(context.algorithm, stored));
  if (!dryRun) await context.store.putObject(objectPath(hashHex, suffix), stored);
  return hashHex;
}

export async function putHistory(
  context: EmbeddedContext,
  history: HistoryDatabase,
): Promise<string> {
  return putMetadataObject(context, history.serialize(), 'H');
}

/** Makes a revision visible: flush every object to disk, then replace the signed manifest. */
export async function commitManifest(
  context: EmbeddedContext,
  manifest: Manifest,
  keys: SigningKeys,
): Promise<void> {
  await context.store.flush();
  await context.store.replaceFile('.cvmfspublished', signManifest(manifest, keys.certificateKey));
}

/** The publisher's state cache (a SQLite file in the spool directory). */
export function cacheFile(context: EmbeddedContext): string {
  return join(context.spoolDir, 'state.db');
}

/** Unix seconds for a new manifest: now, but never earlier than the previous one (clients reject that). */
export function nextTimestamp(context: EmbeddedContext, previous: number): number {
  return Math.max(Math.floor(context.now().getTime() / 1000), previous);
}
