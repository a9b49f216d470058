import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { Chunker, type ChunkingOptions } from '../../cvmfs/chunking.js';
import type { Compression } from '../../cvmfs/catalog/entry.js';
import { hashBytes, hashToHex, objectPath, type HashAlgorithm } from '../../cvmfs/hash.js';
import { objectExistsSync, writeObjectSync } from '../../storage/directory-objects.js';
import type { WorkerTarget } from '../../storage/storage.js';

/** Where a regular file's content went: one object, or a list of chunk objects. */
export interface StoredContent {
  /** Hex hash of the whole-file object; `''` for a chunked file. */
  hash: string;
  compression: Compression;
  chunks?: Array<{ offset: number; size: number; hash: string }>;
}

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

const READ_PIECE = 1024 * 1024;

/**
 * The work on one file, synchronous, as a worker thread runs it: read, hash the raw bytes
 * (to recognize content stored before), compress, hash what is stored, write the object
 * through a temporary name. One call per file on each core beats thousands of small async
 * operations on the main thread.
 */
export class ContentPipeline {
  private readonly lookup: Database.Statement | undefined;

  constructor(private readonly options: PipelineOptions) {
    // Content known from the state cache is reused only where its object can be seen to exist.
    this.lookup =
      options.target !== undefined && existsSync(options.statePath)
        ? new Database(options.statePath, { readonly: true, fileMustExist: true })
            .prepare('SELECT content FROM contents WHERE raw = ?')
            .pluck()
        : undefined;
  }

  storeFile(source: string, size: number): FileOutcome {
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
    if (chunking === undefined || size <= chunking.minSize) {
      outcome.content.hash = this.storePiece(
        source === '' ? Buffer.alloc(0) : reading(source, () => readFileSync(source)),
        '',
        outcome,
      );
      return outcome;
    }
    const chunker = new Chunker(chunking);
    const chunks: Array<{ offset: number; size: number; hash: string }> = [];
    let held: Buffer | undefined;
    let offset = 0;
    // The first chunk is stored only once we know whether a second follows: a file that
    // yields a single chunk is stored as an ordinary whole-file object.
    const take = (chunk: Buffer): void => {
      if (held !== undefined) {
        chunks.push({ offset, size: held.length, hash: this.storePiece(held, 'P', outcome) });
        offset += held.length;
      }
      held = chunk;
    };
    const fd = reading(source, () => openSync(source, 'r'));
    try {
      const buffer = Buffer.allocUnsafe(READ_PIECE);
      for (;;) {
        const read = reading(source, () => readSync(fd, buffer, 0, READ_PIECE, null));
        if (read === 0) break;
        for (const chunk of chunker.push(buffer.subarray(0, read))) take(chunk);
      }
    } finally {
      closeSync(fd);
    }
    for (const chunk of chunker.finish()) take(chunk);
    if (held === undefined) {
      outcome.content.hash = this.storePiece(Buffer.alloc(0), '', outcome);
    } else if (chunks.length === 0) {
      outcome.content.hash = this.storePiece(held, '', outcome);
    } else {
      chunks.push({ offset, size: held.length, hash: this.storePiece(held, 'P', outcome) });
      outcome.content.chunks = chunks;
    }
    return outcome;
  }

  private storePiece(data: Buffer, suffix: '' | 'P', outcome: FileOutcome): string {
    const { algorithm, compression, target, dryRun } = this.options;
    const rawKey = `${createHash('sha1').update(data).digest('hex')}:${data.length}:${compression}:${algorithm}:${suffix}`;
    const known = this.lookup?.get(rawKey) as string | undefined;
    if (known !== undefined && target !== undefined) {
      const { hash } = JSON.parse(known) as StoredContent;
      if (objectExistsSync(target.root, objectPath(hash, suffix))) {
        outcome.knownContent++;
        return hash;
      }
    }
    const stored = compression === 'zlib' ? deflateSync(data) : data;
    const hash = hashToHex(hashBytes(algorithm, stored));
    outcome.learned.push({ rawKey, hash });
    if (dryRun) return hash;
    const name = objectPath(hash, suffix);
    if (target === undefined) {
      outcome.objects.push({ name, bytes: stored });
    } else if (writing(target.root, name, () => writeObjectSync(target.root, name, stored))) {
      outcome.objectsWritten++;
      outcome.bytesWritten += stored.length;
      outcome.written.push(name);
    }
    return hash;
  }
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
