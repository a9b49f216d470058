import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { chunkStream, type ChunkingOptions } from '../../cvmfs/chunking.js';
import { compressAsync } from '../../cvmfs/compression.js';
import { hashBytes, hashToHex, objectPath, type HashAlgorithm } from '../../cvmfs/hash.js';
import type { Compression } from '../../cvmfs/catalog/entry.js';
import type { Progress } from '../../log.js';
import type { FileStamp, StateCache } from './state-cache.js';
import { storedObjectHashes } from './state-cache.js';
import type { RepoStore } from './store.js';
import type { TreeNode } from './tree.js';

/** Where a regular file's content went: one object, or a list of chunk objects. */
export interface StoredContent {
  /** Hex hash of the whole-file object; `''` for a chunked file. */
  hash: string;
  compression: Compression;
  chunks?: Array<{ offset: number; size: number; hash: string }>;
}

export interface ContentOptions {
  algorithm: HashAlgorithm;
  compression: Compression;
  /** Undefined disables chunking. */
  chunking: ChunkingOptions | undefined;
  /** Compute hashes but write no object (to compare a tree with a published snapshot). */
  dryRun: boolean;
}

export interface ContentStats {
  files: number;
  bytes: number;
  unchangedFiles: number;
  knownContent: number;
  objectsWritten: number;
  bytesWritten: number;
}

/** Stores file contents as objects, skipping what is known to be stored already. */
export class ContentStore {
  readonly stats: ContentStats = {
    files: 0,
    bytes: 0,
    unchangedFiles: 0,
    knownContent: 0,
    objectsWritten: 0,
    bytesWritten: 0,
  };
  private readonly byInode = new Map<string, Promise<StoredContent>>();

  constructor(
    private readonly store: RepoStore,
    private readonly cache: StateCache,
    private readonly options: ContentOptions,
    private readonly progress: Progress,
  ) {}

  /** Hard links share one content: each inode is read once. */
  content(node: TreeNode): Promise<StoredContent> {
    const key = `${node.dev}:${node.ino}`;
    let pending = this.byInode.get(key);
    if (pending === undefined) {
      pending = this.storeFile(node);
      this.byInode.set(key, pending);
    }
    return pending;
  }

  private async storeFile(node: TreeNode): Promise<StoredContent> {
    // A synthetic file (a catalog marker the publisher adds) is empty and has no source.
    if (node.source === '') return this.storeWhole(Buffer.alloc(0));
    this.stats.files++;
    this.stats.bytes += node.size;
    const stamp: FileStamp = {
      size: node.size,
      mtimeNs: String(BigInt(node.mtime) * 1_000_000_000n + BigInt(node.mtimeNs)),
      ctimeNs: String(node.ctimeNs),
      ino: String(node.ino),
      dev: String(node.dev),
    };
    const known = this.cache.fileContent(node.source, stamp);
    if (
      known !== undefined &&
      known.compression === this.options.compression &&
      (await this.objectsExist(known))
    ) {
      this.stats.unchangedFiles++;
      this.progress.advance(node.size);
      return known;
    }
    const content =
      this.options.chunking !== undefined && node.size > this.options.chunking.minSize
        ? await this.storeChunked(node.source, this.options.chunking)
        : await this.storeWhole(await readFile(node.source));
    this.cache.rememberFile(node.source, stamp, content);
    this.progress.advance(node.size);
    return content;
  }

  private async storeWhole(data: Buffer): Promise<StoredContent> {
    const piece = await this.storePiece(data, '');
    return { hash: piece, compression: this.options.compression };
  }

  private async storeChunked(source: string, chunking: ChunkingOptions): Promise<StoredContent> {
    const chunks: Array<{ offset: number; size: number; hash: string }> = [];
    let held: Buffer | undefined;
    let offset = 0;
    const stream = createReadStream(source, { highWaterMark: 1024 * 1024 });
    for await (const chunk of chunkStream(stream as AsyncIterable<Buffer>, chunking)) {
      // The first chunk is stored only once we know whether a second follows: a file that
      // yields a single chunk is stored as an ordinary whole-file object.
      if (held !== undefined) {
        chunks.push({ offset, size: held.length, hash: await this.storePiece(held, 'P') });
        offset += held.length;
      }
      held = Buffer.from(chunk);
    }
    if (held === undefined) return this.storeWhole(Buffer.alloc(0));
    if (chunks.length === 0) return this.storeWhole(held);
    chunks.push({ offset, size: held.length, hash: await this.storePiece(held, 'P') });
    return { hash: '', compression: this.options.compression, chunks };
  }

  /** Stores one object (a file or a chunk) and returns its hash. */
  private async storePiece(data: Buffer, suffix: '' | 'P'): Promise<string> {
    const rawKey = `${createHash('sha1').update(data).digest('hex')}:${data.length}:${this.options.compression}:${this.options.algorithm}:${suffix}`;
    const known = this.cache.rawContent(rawKey);
    if (known !== undefined && (await this.store.has(objectPath(known.hash, suffix)))) {
      this.stats.knownContent++;
      return known.hash;
    }
    const stored = this.options.compression === 'zlib' ? await compressAsync(data) : data;
    const hashHex = hashToHex(hashBytes(this.options.algorithm, stored));
    if (!this.options.dryRun && (await this.store.putObject(objectPath(hashHex, suffix), stored))) {
      this.stats.objectsWritten++;
      this.stats.bytesWritten += stored.length;
    }
    this.cache.rememberRawContent(rawKey, { hash: hashHex, compression: this.options.compression });
    return hashHex;
  }

  private async objectsExist(content: StoredContent): Promise<boolean> {
    const suffix = content.chunks === undefined ? '' : 'P';
    for (const hash of storedObjectHashes(content)) {
      if (!(await this.store.has(objectPath(hash, suffix)))) return false;
    }
    return true;
  }
}
