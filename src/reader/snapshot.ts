import type { CatalogEntry, NestedCatalogRef } from '../cvmfs/catalog/entry.js';
import { entryKind } from '../cvmfs/catalog/entry.js';
import { isWithin, normalizeRepoPath } from '../cvmfs/catalog/path-hash.js';
import type { CatalogFile } from '../cvmfs/catalog/sqlite.js';
import { hashToHex } from '../cvmfs/hash.js';
import { UcvmError } from '../errors.js';
import type { Repository } from './repository.js';

export interface MountedCatalog {
  mountpoint: string;
  hashHex: string;
  file: CatalogFile;
}

/** One root catalog and everything below it: a named snapshot of the file system. */
export class Snapshot {
  constructor(
    readonly repository: Repository,
    readonly rootHash: string,
  ) {}

  /** The catalog that holds `path` (the deepest one whose mount point contains it). */
  async catalogFor(path: string): Promise<MountedCatalog> {
    let current: MountedCatalog = {
      mountpoint: '',
      hashHex: this.rootHash,
      file: await this.repository.catalog(this.rootHash),
    };
    for (;;) {
      const next: NestedCatalogRef | undefined = current.file
        .nested()
        .find((ref) => isWithin(path, ref.path));
      if (next === undefined) return current;
      current = {
        mountpoint: next.path,
        hashHex: next.hashHex,
        file: await this.repository.catalog(next.hashHex),
      };
    }
  }

  async lookup(input: string): Promise<CatalogEntry | undefined> {
    const path = normalizeRepoPath(input);
    return (await this.catalogFor(path)).file.lookup(path);
  }

  async stat(input: string): Promise<CatalogEntry> {
    const entry = await this.lookup(input);
    if (entry === undefined)
      throw new UcvmError('PATH_NOT_FOUND', `no such file in the snapshot: ${input}`, {
        where: { path: input },
      });
    return entry;
  }

  /** Entries of a directory, sorted by name. */
  async list(input: string): Promise<CatalogEntry[]> {
    const entry = await this.stat(input);
    if (entryKind(entry) !== 'directory') return [entry];
    const { file } = await this.catalogFor(entry.path);
    return file.list(entry.path).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The content of a regular file, chunked or not, checked against its hashes and size. */
  async readFile(input: string): Promise<Buffer> {
    const entry = await this.stat(input);
    if (entryKind(entry) !== 'regular')
      throw new UcvmError('PATH_NOT_FOUND', `not a regular file: ${input}`, {
        where: { path: input },
      });
    return this.content(entry);
  }

  /** The content of a regular file whole, at most the size the catalog records. */
  async content(entry: CatalogEntry): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for await (const piece of this.contentStream(entry)) pieces.push(piece);
    return Buffer.concat(pieces);
  }

  /**
   * The content of a regular file piece by piece, chunk by chunk, each object checked against
   * its hash and its recorded size while it streams (a mismatch throws, at the latest at the
   * end of the object whose bytes were just yielded: writers must fail when it throws).
   */
  async *contentStream(entry: CatalogEntry): AsyncGenerator<Buffer> {
    const compressed = entry.compression === 'zlib';
    if (entry.chunks !== undefined && entry.chunks.length > 0) {
      let offset = 0;
      for (const chunk of entry.chunks) {
        if (chunk.offset !== offset)
          throw new UcvmError(
            'REPO_CORRUPT',
            `${entry.path}: chunk at ${chunk.offset} does not follow the one before (at ${offset})`,
          );
        yield* this.repository.objectContent(hashToHex(chunk.hash), 'P', {
          size: chunk.size,
          compressed,
        });
        offset += chunk.size;
      }
      if (offset !== entry.size)
        throw new UcvmError(
          'OBJECT_CORRUPT',
          `${entry.path} has ${offset} bytes in its chunks, the catalog says ${entry.size}`,
        );
    } else if (entry.hash !== undefined) {
      yield* this.repository.objectContent(hashToHex(entry.hash), '', {
        size: entry.size,
        compressed,
      });
    } else {
      throw new UcvmError('REPO_CORRUPT', `regular file ${entry.path} has neither hash nor chunks`);
    }
  }

  /** Every catalog of the snapshot, parents before children. */
  async *catalogs(): AsyncGenerator<MountedCatalog> {
    const queue: MountedCatalog[] = [
      {
        mountpoint: '',
        hashHex: this.rootHash,
        file: await this.repository.catalog(this.rootHash),
      },
    ];
    while (queue.length > 0) {
      const current = queue.shift()!;
      yield current;
      for (const ref of current.file.nested()) {
        queue.push({
          mountpoint: ref.path,
          hashHex: ref.hashHex,
          file: await this.repository.catalog(ref.hashHex),
        });
      }
    }
  }

  /** Every entry once (a nested catalog's root row, not its parent's transition row), parents first. */
  async *walk(): AsyncGenerator<CatalogEntry> {
    for await (const catalog of this.catalogs()) {
      for (const entry of catalog.file.entries()) {
        if (entry.nestedMountpoint === true) continue;
        yield entry;
      }
    }
  }
}
