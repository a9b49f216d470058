import type { MutexRequest } from '../mutex/index.js';
import type { RepoSource } from '../reader/source.js';

/** Held by the one process that writes a repository; released when the work is done. */
export interface WriterLock {
  release(): void | Promise<void>;
}

/** Who asks, and how long to queue behind another writer (0: fail at once with REPO_LOCKED). */
export type LockRequest = Omit<MutexRequest, 'busy'>;

/**
 * How worker threads reach the storage. A directory is written by the workers themselves
 * (no bytes cross threads); a store without such a target gets the workers' bytes and writes
 * them on the main thread with `putIfAbsent`.
 */
export type WorkerTarget = { kind: 'directory'; root: string };

/**
 * Where a repository's files live: immutable objects under `data/`, and a few fixed-name files
 * (`.cvmfspublished`, `.cvmfswhitelist`) replaced atomically. Names are relative to the
 * repository base, exactly as clients request them. The publisher writes only through this
 * interface; a directory is the first implementation, an object store the second.
 */
export interface RepoStorage {
  /** A directory path or a URL, for messages. */
  readonly location: string;
  /** Reads as a client would (the reader's verified path runs on it). */
  source(): RepoSource;
  /** Creates what an empty storage needs; refuses a layout that could lead writes elsewhere. */
  prepare(): Promise<void>;
  /** True once a repository was initialized here (a signed manifest exists). */
  initialized(): Promise<boolean>;
  read(name: string): Promise<Buffer | undefined>;
  /** The names among `names` that do not exist (an existence check, never a re-hash). */
  missing(names: Iterable<string>): Promise<string[]>;
  /** Writes an immutable object unless it exists; true if this call wrote it. */
  putIfAbsent(name: string, bytes: Uint8Array): Promise<boolean>;
  /** Replaces a fixed-name file so that readers see the old or the new bytes, never a mix. */
  replace(name: string, bytes: Uint8Array): Promise<void>;
  remove(name: string): Promise<void>;
  /** Removes many (garbage collection): batched where the store can. */
  removeAll(names: readonly string[]): Promise<void>;
  /** Every object under `data/` with its size. */
  list(): AsyncIterable<{ name: string; size: number }>;
  /** Makes everything written so far durable, before the manifest makes it visible. */
  flush(): Promise<void>;
  /** The one-writer lock of this repository. */
  lock(request: LockRequest): Promise<WriterLock>;
  /** Removes what a killed writer left half-done; call only while holding the lock. */
  cleanup(): Promise<number>;
  workerTarget(): WorkerTarget | undefined;
}

/**
 * A random identity written at init, so that a publisher's local spool can tell this storage
 * from another one at the same path (re-created, restored, or shared by two machines).
 */
export const STORAGE_ID_FILE = '.ucvm-storage-id';
