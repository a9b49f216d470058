import type { Progress } from '../../log.js';
import type { RepoStorage } from '../../storage/storage.js';
import type { PipelineOptions, StoredContent } from './content-pipeline.js';
import { ContentWorkerPool } from './content-pool.js';
import { addProfile, emptyProfile, StepClock, type ContentProfile } from './content-profile.js';
import { stampOf, type StateCache } from './state-cache.js';
import type { TreeNode } from './tree.js';

export type { StoredContent } from './content-pipeline.js';

/** Bytes of new objects after which a flush is started in the background. */
const WRITEBACK_BYTES = 32 * 1024 * 1024;
/** Bytes of new objects left at the end below which no early flush is started (see writeback). */
const WRITEBACK_TAIL_BYTES = 4 * 1024 * 1024;
/** Rows the spool writes at a time while the contents are stored (see StateCache.writeAhead). */
const WRITE_AHEAD_ROWS = 1024;

export interface ContentStats {
  files: number;
  bytes: number;
  unchangedFiles: number;
  knownContent: number;
  objectsWritten: number;
  bytesWritten: number;
  /** Where the time went, when profiling. */
  profile?: ContentProfile;
}

/**
 * Stores file contents as objects, skipping what is known to be stored already: a file
 * unchanged since the last publish (by its stamp) is not read at all; the rest goes to the
 * worker threads, which recognize content stored before by a hash of its raw bytes.
 */
export class ContentStore {
  readonly stats: ContentStats = {
    files: 0,
    bytes: 0,
    unchangedFiles: 0,
    knownContent: 0,
    objectsWritten: 0,
    bytesWritten: 0,
  };
  /** Objects this run wrote: if the publish fails, nothing references them and they go again. */
  readonly written: string[] = [];
  /** The content of each inode with several names (hard links), by device and inode. */
  private readonly byInode = new Map<string, Promise<StoredContent>>();
  private pool: ContentWorkerPool | undefined;
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  private firstHandOff: number | undefined;
  private lastResult: number | undefined;

  constructor(
    private readonly options: PipelineOptions,
    private readonly storage: RepoStorage,
    private readonly cache: StateCache,
    private readonly progress: Progress,
  ) {
    if (options.profile === true) this.stats.profile = emptyProfile();
  }

  /**
   * The stored content of a file unchanged since the last publish (same size, mtime, ctime,
   * inode), without reading it; undefined if it must be stored. The stamps are used only when
   * the spool is bound to this storage at this revision; the publish still checks that every
   * object exists before it signs.
   */
  unchanged(node: TreeNode): StoredContent | undefined {
    if (node.source === '') return undefined;
    const known = this.cache.fileContent(node.source, stampOf(node));
    if (known === undefined || known.compression !== this.options.compression) return undefined;
    this.stats.files++;
    this.stats.bytes += node.size;
    this.stats.unchangedFiles++;
    this.progress.advance(node.size);
    return known;
  }

  /** Stores a file's content; hard links share one content, so each inode is stored once. */
  async content(node: TreeNode): Promise<StoredContent> {
    let pending: Promise<StoredContent>;
    if (node.nlink > 1) {
      const key = `${node.dev}:${node.ino}`;
      const first = this.byInode.get(key);
      pending = first ?? this.storeFile(node);
      if (first === undefined) this.byInode.set(key, pending);
    } else pending = this.storeFile(node);
    const content = await pending;
    // Every name of the inode gets its stamp: the next publish must know each of them.
    if (node.source !== '' && !this.options.dryRun) {
      this.cache.rememberFile(node.source, stampOf(node), content, node);
      this.cache.writeAhead(WRITE_AHEAD_ROWS);
    }
    return content;
  }

  /**
   * The names among `names` missing from the storage: looked up by the worker threads where
   * they write to the storage themselves (a directory), else by the storage.
   */
  missing(names: readonly string[]): Promise<string[]> {
    if (this.options.target === undefined) return this.storage.missing(names);
    return this.start().missing(names);
  }

  /**
   * About `expected` objects will be looked for (those of the files unchanged since the last
   * publish): where the workers write to a directory, one of them lists the object directories
   * ahead, between files (see ContentWorkerPool.listAhead).
   */
  expectChecks(expected: number): void {
    if (this.options.target === undefined || this.options.dryRun || expected === 0) return;
    this.start().listAhead(expected);
  }

  /**
   * Flushes the objects written so far to disk (after any flush already under way), unless they
   * are only a few megabytes. The commit flushes everything again; this one lets the disk work
   * while the catalogs are built.
   */
  async writeback(): Promise<void> {
    await this.flushing;
    if (this.unflushed < WRITEBACK_TAIL_BYTES) return;
    this.unflushed = 0;
    await this.storage.flush();
  }

  /** Starts the worker threads now, so that their start-up overlaps other work. */
  start(): ContentWorkerPool {
    this.pool ??= new ContentWorkerPool(this.options);
    return this.pool;
  }

  /**
   * Stores no more files: those not yet with a worker fail with `reason`, those being stored
   * finish (so that the objects they write are known). Closing still follows.
   */
  cancel(reason: Error): void {
    this.pool?.cancel(reason);
  }

  async close(): Promise<void> {
    const { profile } = this.stats;
    if (profile !== undefined && this.pool !== undefined && this.lastResult !== undefined) {
      const wall = (this.lastResult - this.firstHandOff!) / 1000;
      profile.idle = Math.max(0, wall * this.pool.size - profile.busy);
    }
    await this.pool?.close();
  }

  private async storeFile(node: TreeNode): Promise<StoredContent> {
    // A synthetic file (a catalog marker the publisher adds) is empty and has no source.
    const synthetic = node.source === '';
    if (!synthetic) {
      this.stats.files++;
      this.stats.bytes += node.size;
    }
    const clock = new StepClock(this.options.profile === true);
    this.firstHandOff ??= clock.start();
    const outcome = await this.start().storeFile(node.source, node.size);
    const started = clock.start();
    this.lastResult = started;
    this.stats.knownContent += outcome.knownContent;
    this.stats.objectsWritten += outcome.objectsWritten;
    this.stats.bytesWritten += outcome.bytesWritten;
    this.unflushed += outcome.bytesWritten;
    if (this.unflushed >= WRITEBACK_BYTES && this.flushing === undefined) {
      // The disk writes the objects while the workers compress more; the commit's flush then
      // has little left to wait for. Only the commit's flush counts: a failure here is retried there.
      this.unflushed = 0;
      this.flushing = this.storage
        .flush()
        .catch(() => undefined)
        .finally(() => (this.flushing = undefined));
    }
    this.written.push(...outcome.written);
    for (const { name, bytes } of outcome.objects) {
      if (await this.storage.putIfAbsent(name, bytes)) {
        this.stats.objectsWritten++;
        this.stats.bytesWritten += bytes.length;
        this.written.push(name);
      }
    }
    for (const { rawKey, hash } of outcome.learned)
      this.cache.rememberRawContent(rawKey, { hash, compression: this.options.compression });
    this.progress.advance(node.size);
    clock.stop('record', started);
    if (this.stats.profile !== undefined) {
      addProfile(this.stats.profile, outcome.profile ?? {});
      addProfile(this.stats.profile, clock.seconds);
    }
    return outcome.content;
  }
}
