import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { cutPoint, type ChunkingOptions } from '../../cvmfs/chunking.js';
import type { Compression } from '../../cvmfs/catalog/entry.js';
import { hashBytes, hashToHex, objectPath, type HashAlgorithm } from '../../cvmfs/hash.js';
import { objectExistsSync, writeObjectSync } from '../../storage/directory-objects.js';
import type { WorkerTarget } from '../../storage/storage.js';
import { StepClock, type ContentProfile } from './content-profile.js';
import { decodeContent, type StoredContent } from './stored-content.js';

export type { StoredContent } from './stored-content.js';

export interface PipelineOptions {
  /** Where objects are written from the worker; without one, their bytes go back to the caller. */
  target: WorkerTarget | undefined;
  algorithm: HashAlgorithm;
  compression: Compression;
  /** Undefined disables chunking. */
  chunking: ChunkingOptions | undefined;
  /** Compute hashes but write no object (to compare a tree with a published snapshot). */
  dryRun: boolean;
  /** The publisher's state cache, read for content stored before (may not exist yet). */
  statePath: string;
  /** Time each step (see ContentProfile). */
  profile?: boolean;
}

export interface FileOutcome {
  content: StoredContent;
  /** Raw-content keys this file taught us, for the state cache. */
  learned: Array<{ rawKey: string; hash: string }>;
  objectsWritten: number;
  bytesWritten: number;
  knownContent: number;
  /** Names of the objects this file's storing wrote (removed again if the publish fails). */
  written: string[];
  /** Objects for the caller to write (only when there is no worker target). */
  objects: Array<{ name: string; bytes: Uint8Array }>;
  /** Seconds per step, when profiling. */
  profile?: Partial<ContentProfile>;
}

/** A failure of the work on one file, and whether reading the tree or writing the storage failed. */
export class PipelineError extends Error {
  constructor(
    readonly phase: 'read' | 'write',
    readonly path: string,
    override readonly cause: NodeJS.ErrnoException,
  ) {
    super(cause.message);
  }
}

/**
 * The work on one file, synchronous, as a worker thread runs it: read, hash the raw bytes
 * (to recognize content stored before), compress, hash what is stored, write the object
 * through a temporary name. One call per file on each core beats thousands of small async
 * operations on the main thread. Each pipeline reads into buffers of its own, reused from
 * file to file: no allocation and no copy per file.
 */
export class ContentPipeline {
  private readonly lookup: Database.Statement | undefined;
  private buffer = Buffer.allocUnsafe(64 * 1024);

  constructor(private readonly options: PipelineOptions) {
    // Content known from the state cache is reused only where its object can be seen to exist;
    // an empty cache (a first publish) is not asked 20,000 times.
    this.lookup = undefined;
    if (options.target !== undefined && existsSync(options.statePath)) {
      const db = new Database(options.statePath, { readonly: true, fileMustExist: true });
      if (db.prepare('SELECT 1 FROM contents LIMIT 1').get() !== undefined)
        this.lookup = db.prepare('SELECT content FROM contents WHERE raw = ?').pluck();
      else db.close();
    }
  }

  storeFile(source: string, size: number): FileOutcome {
    const clock = new StepClock(this.options.profile === true);
    const began = clock.start();
    const outcome: FileOutcome = {
      content: { hash: '', compression: this.options.compression },
      learned: [],
      objectsWritten: 0,
      bytesWritten: 0,
      knownContent: 0,
      written: [],
      objects: [],
    };
    const { chunking } = this.options;
    if (source === '') outcome.content.hash = this.storePiece(Buffer.alloc(0), '', outcome, clock);
    else if (chunking === undefined || size <= chunking.minSize) {
      const started = clock.start();
      const data = this.readWhole(source, size);
      clock.stop('read', started);
      outcome.content.hash = this.storePiece(data, '', outcome, clock);
    } else this.storeChunked(source, size, chunking, outcome, clock);
    clock.stop('busy', began);
    if (this.options.profile === true) outcome.profile = clock.seconds;
    return outcome;
  }

  /**
   * The file's bytes, in this pipeline's buffer (valid until the next read): exactly the size
   * the scan saw, which the catalog will record. One byte more is asked for, to see a file
   * that grew; a file that grew or shrank since the scan is an error, not a wrong entry.
   */
  private readWhole(source: string, size: number): Buffer {
    if (this.buffer.length < size + 1) this.buffer = Buffer.allocUnsafe(size + 1);
    const fd = reading(source, () => openSync(source, 'r'));
    try {
      const filled = this.readAt(source, fd, this.buffer, size + 1, 0);
      if (filled !== size) throw changedSize(source, size, filled);
      return this.buffer.subarray(0, size);
    } finally {
      closeSync(fd);
    }
  }

  /** Reads up to `length` bytes at `position` into the start of `into`; fewer only at the end. */
  private readAt(
    source: string,
    fd: number,
    into: Buffer,
    length: number,
    position: number,
  ): number {
    let filled = 0;
    while (filled < length) {
      const read = reading(source, () =>
        readSync(fd, into, filled, length - filled, position + filled),
      );
      if (read === 0) break;
      filled += read;
    }
    return filled;
  }

  /**
   * A large file, one window of up to `maxSize` bytes at a time, read at the offset where the
   * last chunk ended: each chunk is cut, compressed and hashed where it was read. A file that
   * yields a single chunk is stored as an ordinary whole-file object. As with whole files, the
   * bytes read must be the size the scan saw.
   */
  private storeChunked(
    source: string,
    size: number,
    chunking: ChunkingOptions,
    outcome: FileOutcome,
    clock: StepClock,
  ): void {
    if (this.buffer.length < chunking.maxSize + 1)
      this.buffer = Buffer.allocUnsafe(chunking.maxSize + 1);
    const window = this.buffer;
    const chunks: Array<{ offset: number; size: number; hash: string }> = [];
    const fd = reading(source, () => openSync(source, 'r'));
    try {
      let offset = 0;
      while (offset < size) {
        let started = clock.start();
        const left = size - offset;
        // One byte past the end of the file as scanned, to see that it grew.
        const filled = this.readAt(
          source,
          fd,
          window,
          Math.min(chunking.maxSize, left + 1),
          offset,
        );
        clock.stop('read', started);
        if (filled > left || (filled < chunking.maxSize && filled !== left))
          throw changedSize(source, size, offset + filled);
        started = clock.start();
        const cut = cutPoint(window, Math.min(filled, left), chunking);
        clock.stop('chunk', started);
        if (offset === 0 && cut === size) {
          outcome.content.hash = this.storePiece(window.subarray(0, cut), '', outcome, clock);
          return;
        }
        const hash = this.storePiece(window.subarray(0, cut), 'P', outcome, clock);
        chunks.push({ offset, size: cut, hash });
        offset += cut;
      }
      // The scan's size was reached: nothing may follow.
      if (this.readAt(source, fd, window, 1, size) !== 0) throw changedSize(source, size, size + 1);
    } finally {
      closeSync(fd);
    }
    // A file above minSize yields a whole-file object (returned above) or at least one chunk.
    outcome.content.chunks = chunks;
  }

  private storePiece(
    data: Buffer,
    suffix: '' | 'P',
    outcome: FileOutcome,
    clock: StepClock,
  ): string {
    const { algorithm, compression, target, dryRun } = this.options;
    let started = clock.start();
    const rawKey = `${createHash('sha1').update(data).digest('hex')}:${data.length}:${compression}:${algorithm}:${suffix}`;
    clock.stop('rawHash', started);
    started = clock.start();
    const known = this.lookup?.get(rawKey) as string | undefined;
    if (known !== undefined && target !== undefined) {
      const { hash } = decodeContent(known);
      if (objectExistsSync(target.root, objectPath(hash, suffix))) {
        outcome.knownContent++;
        clock.stop('lookup', started);
        return hash;
      }
    }
    clock.stop('lookup', started);
    started = clock.start();
    const stored = compression === 'zlib' ? deflateSync(data) : data;
    clock.stop('compress', started);
    started = clock.start();
    const hash = hashToHex(hashBytes(algorithm, stored));
    clock.stop('hash', started);
    outcome.learned.push({ rawKey, hash });
    if (dryRun) return hash;
    const name = objectPath(hash, suffix);
    if (target === undefined) {
      // Uncompressed bytes are the pipeline's read buffer, which the next file overwrites.
      outcome.objects.push({ name, bytes: stored === data ? Buffer.from(data) : stored });
    } else {
      started = clock.start();
      const written = writing(target.root, name, () => writeObjectSync(target.root, name, stored));
      clock.stop('write', started);
      if (written) {
        outcome.objectsWritten++;
        outcome.bytesWritten += stored.length;
        outcome.written.push(name);
      }
    }
    return hash;
  }
}

/** A file whose size is not the scan's: its catalog entry would not match its content. */
function changedSize(path: string, scanned: number, read: number): PipelineError {
  const cause: NodeJS.ErrnoException = new Error(
    `its size changed while it was published (${scanned} bytes when scanned, ${read > scanned ? 'more' : read} when read)`,
  );
  return new PipelineError('read', path, cause);
}

function reading<T>(path: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw new PipelineError('read', path, error as NodeJS.ErrnoException);
  }
}

function writing<T>(root: string, name: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw new PipelineError('write', `${root}/${name}`, error as NodeJS.ErrnoException);
  }
}
