import type { CatalogEntry, NestedCatalogRef } from '../cvmfs/catalog/entry.js';
import { entryKind } from '../cvmfs/catalog/entry.js';
import { isWithin, normalizeRepoPath } from '../cvmfs/catalog/path-hash.js';
import type { CatalogFile } from '../cvmfs/catalog/sqlite.js';
import { decompress } from '../cvmfs/compression.js';
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

  async content(entry: CatalogEntry): Promise<Buffer> {
    const inflate = (bytes: Buffer): Buffer =>
      entry.compression === 'zlib' ? decompress(bytes) : bytes;
    let data: Buffer;
    if (entry.chunks !== undefined && entry.chunks.length > 0) {
      const pieces: Buffer[] = [];
      for (const chunk of entry.chunks) {
        const piece = inflate(await this.repository.object(hashToHex(chunk.hash), 'P'));
        if (piece.length !== chunk.size)
          throw new UcvmError(
            'OBJECT_CORRUPT',
            `chunk at ${chunk.offset} of ${entry.path} has ${piece.length} bytes, expected ${chunk.size}`,
          );
        pieces.push(piece);
      }
      data = Buffer.concat(pieces);
    } else if (entry.hash !== undefined) {
      data = inflate(await this.repository.object(hashToHex(entry.hash), ''));
    } else {
      throw new UcvmError('REPO_CORRUPT', `regular file ${entry.path} has neither hash nor chunks`);
    }
    if (data.length !== entry.size)
      throw new UcvmError(
        'OBJECT_CORRUPT',
        `${entry.path} has ${data.length} bytes, the catalog says ${entry.size}`,
      );
    return data;
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
