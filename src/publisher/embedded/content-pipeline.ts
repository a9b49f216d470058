import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  openSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { Chunker, type ChunkingOptions } from '../../cvmfs/chunking.js';
import type { Compression } from '../../cvmfs/catalog/entry.js';
import { hashBytes, hashToHex, objectPath, type HashAlgorithm } from '../../cvmfs/hash.js';

/** Where a regular file's content went: one object, or a list of chunk objects. */
export interface StoredContent {
  /** Hex hash of the whole-file object; `''` for a chunked file. */
  hash: string;
  compression: Compression;
  chunks?: Array<{ offset: number; size: number; hash: string }>;
}

export interface PipelineOptions {
  storageRoot: string;
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
  private readonly txnDir: string;

  constructor(private readonly options: PipelineOptions) {
    this.txnDir = join(options.storageRoot, 'data', 'txn');
    this.lookup = existsSync(options.statePath)
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
    };
    const { chunking } = this.options;
    if (chunking === undefined || size <= chunking.minSize) {
      outcome.content.hash = this.storePiece(
        source === '' ? Buffer.alloc(0) : readFileSync(source),
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
    const fd = openSync(source, 'r');
    try {
      const buffer = Buffer.allocUnsafe(READ_PIECE);
      for (;;) {
        const read = readSync(fd, buffer, 0, READ_PIECE, null);
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
    const { algorithm, compression, storageRoot, dryRun } = this.options;
    const rawKey = `${createHash('sha1').update(data).digest('hex')}:${data.length}:${compression}:${algorithm}:${suffix}`;
    const known = this.lookup?.get(rawKey) as string | undefined;
    if (known !== undefined) {
      const { hash } = JSON.parse(known) as StoredContent;
      if (existsSync(join(storageRoot, objectPath(hash, suffix)))) {
        outcome.knownContent++;
        return hash;
      }
    }
    const stored = compression === 'zlib' ? deflateSync(data) : data;
    const hash = hashToHex(hashBytes(algorithm, stored));
    outcome.learned.push({ rawKey, hash });
    if (!dryRun && this.writeObject(objectPath(hash, suffix), stored)) {
      outcome.objectsWritten++;
      outcome.bytesWritten += stored.length;
    }
    return hash;
  }

  /** Writes an immutable object unless it exists; link() never replaces an existing name. */
  private writeObject(relative: string, bytes: Buffer): boolean {
    const temp = join(this.txnDir, `tmp.${process.pid}.${randomBytes(6).toString('hex')}`);
    writeFileSync(temp, bytes, { flag: 'wx', mode: 0o644 });
    try {
      linkSync(temp, join(this.options.storageRoot, relative));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return false;
    } finally {
      unlinkSync(temp);
    }
  }
}
