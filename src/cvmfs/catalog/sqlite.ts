import Database from 'better-sqlite3';
import {
  flagsCompression,
  flagsHashAlgorithm,
  encodeFlags,
  FLAG_CHUNKED,
  FLAG_HIDDEN,
  FLAG_NESTED_MOUNTPOINT,
  FLAG_NESTED_ROOT,
} from './flags.js';
import { hashToHex } from '../hash.js';
import { counterRows, countersFromRows, type Counters } from './counters.js';
import { entryKind, type CatalogEntry, type Chunk, type NestedCatalogRef } from './entry.js';
import { baseName, NULL_PATH_HASH, parentPath, pathHash, type PathHash } from './path-hash.js';
import { CATALOG_DDL, CATALOG_SCHEMA, CATALOG_SCHEMA_REVISION } from './schema.js';
import { decodeXattrs, encodeXattrs } from './xattr.js';

/** Catalog properties that vary per revision (the rest of the `properties` table is fixed). */
export interface CatalogProperties {
  revision: number;
  lastModified: number;
  /** Root catalog only: the client's reload interval in seconds. */
  ttl?: number | undefined;
  /** Hex hash of the previous version of this catalog. */
  previousRevision?: string | undefined;
}

export interface CatalogContent {
  /** `""` for the root catalog, else the nested catalog's mount point. */
  mountpoint: string;
  /** Root entry first: the client's root inode is rowid 1. */
  entries: readonly CatalogEntry[];
  nested: readonly NestedCatalogRef[];
  properties: CatalogProperties;
  counters: Counters;
}

function splitHardlinks(value: bigint): { group: number; linkcount: number } {
  return { group: Number(value >> 32n), linkcount: Number(value & 0xffffffffn) };
}

const ROW_COLUMNS =
  'md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, mode, mtime, mtimens, flags, name, symlink, uid, gid, xattr';

/** The values of one `catalog` row, in `ROW_COLUMNS` order. */
function rowValues(entry: CatalogEntry, self: PathHash, parent: PathHash): unknown[] {
  return [
    self.high,
    self.low,
    parent.high,
    parent.low,
    hardlinksField(entry.hardlinkGroup, entry.linkcount),
    entry.hash?.digest ?? null,
    entry.size,
    entry.mode,
    entry.mtime,
    entry.mtimeNs ?? null,
    encodeFlags(entry),
    entry.path === '' ? '' : baseName(entry.path),
    entry.symlink,
    entry.uid,
    entry.gid,
    entry.xattrs === undefined ? null : (encodeXattrs(entry.xattrs) ?? null),
  ];
}

function parentHash(path: string): PathHash {
  return path === '' ? NULL_PATH_HASH : pathHash(parentPath(path));
}

/** Properties, nested catalogs and statistics: what every revision of a catalog rewrites. */
function writeCatalogTables(
  db: Database.Database,
  content: Pick<CatalogContent, 'mountpoint' | 'nested' | 'properties' | 'counters'>,
): void {
  const { properties } = content;
  db.exec("DELETE FROM properties WHERE key IN ('TTL', 'previous_revision')");
  db.exec('DELETE FROM nested_catalogs');
  const setProperty = db.prepare('INSERT OR REPLACE INTO properties (key, value) VALUES (?, ?)');
  setProperty.run('schema', CATALOG_SCHEMA);
  setProperty.run('schema_revision', String(CATALOG_SCHEMA_REVISION));
  setProperty.run('revision', String(properties.revision));
  setProperty.run('last_modified', String(properties.lastModified));
  if (properties.ttl !== undefined) setProperty.run('TTL', String(properties.ttl));
  if (content.mountpoint !== '') setProperty.run('root_prefix', content.mountpoint);
  if (properties.previousRevision !== undefined)
    setProperty.run('previous_revision', properties.previousRevision);
  const insertNested = db.prepare(
    'INSERT INTO nested_catalogs (path, sha1, size) VALUES (?, ?, ?)',
  );
  for (const nested of content.nested) insertNested.run(nested.path, nested.hashHex, nested.size);
  const setCounter = db.prepare('INSERT OR REPLACE INTO statistics (counter, value) VALUES (?, ?)');
  for (const [counter, value] of counterRows(content.counters)) setCounter.run(counter, value);
}

/** Builds the uncompressed SQLite file of one catalog. */
export function writeCatalog(content: CatalogContent): Buffer {
  const db = new Database(':memory:');
  try {
    db.exec(CATALOG_DDL);
    const insertEntry = db.prepare(
      `INSERT INTO catalog (${ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertChunk = db.prepare(
      'INSERT INTO chunks (md5path_1, md5path_2, offset, size, hash) VALUES (?, ?, ?, ?, ?)',
    );
    // Parents precede their children, so each directory's path hash is computed once.
    const directoryHashes = new Map<string, PathHash>();
    db.transaction(() => {
      writeCatalogTables(db, content);
      for (const entry of content.entries) {
        const self = pathHash(entry.path);
        if (entryKind(entry) === 'directory') directoryHashes.set(entry.path, self);
        const parent =
          entry.path === ''
            ? NULL_PATH_HASH
            : (directoryHashes.get(parentPath(entry.path)) ?? parentHash(entry.path));
        insertEntry.run(rowValues(entry, self, parent));
        for (const chunk of entry.chunks ?? [])
          insertChunk.run(self.high, self.low, chunk.offset, chunk.size, chunk.hash.digest);
      }
    })();
    return db.serialize();
  } finally {
    db.close();
  }
}

/** What changed in a catalog since a base version of it (same mount point). */
export interface CatalogPatch extends Omit<CatalogContent, 'entries'> {
  /** Entries that are new or differ from the base: their rows are rewritten. */
  upserts: readonly CatalogEntry[];
  /** Paths of the base's entries that are gone. */
  removals: readonly string[];
  /** How many entries the patched catalog has (checked). */
  entryCount: number;
}

/** Past this share of free pages a patched catalog is rewritten compactly (VACUUM). */
const VACUUM_FREE_SHARE = 0.25;

/**
 * The next version of a catalog, made from the uncompressed file of its base version by
 * rewriting only the rows that changed (as the CernVM-FS server changes catalogs in place):
 * a changed file costs its row, not the whole catalog. A row keeps its rowid, so the root
 * entry stays first. Throws if the result does not hold `entryCount` entries.
 */
export function patchCatalog(base: Buffer, patch: CatalogPatch): Buffer {
  const db = new Database(base);
  try {
    const update = db.prepare(
      'UPDATE catalog SET parent_1 = ?, parent_2 = ?, hardlinks = ?, hash = ?, size = ?, mode = ?, mtime = ?, mtimens = ?, flags = ?, name = ?, symlink = ?, uid = ?, gid = ?, xattr = ? WHERE md5path_1 = ? AND md5path_2 = ?',
    );
    const insert = db.prepare(
      `INSERT INTO catalog (${ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const remove = db.prepare('DELETE FROM catalog WHERE md5path_1 = ? AND md5path_2 = ?');
    const removeChunks = db.prepare('DELETE FROM chunks WHERE md5path_1 = ? AND md5path_2 = ?');
    const insertChunk = db.prepare(
      'INSERT INTO chunks (md5path_1, md5path_2, offset, size, hash) VALUES (?, ?, ?, ?, ?)',
    );
    const count = db.prepare('SELECT count(*) FROM catalog').pluck();
    db.transaction(() => {
      for (const path of patch.removals) {
        const self = pathHash(path);
        remove.run(self.high, self.low);
        removeChunks.run(self.high, self.low);
      }
      for (const entry of patch.upserts) {
        const self = pathHash(entry.path);
        const values = rowValues(entry, self, parentHash(entry.path));
        // The key columns go last in the UPDATE.
        if (update.run([...values.slice(2), values[0], values[1]]).changes === 0)
          insert.run(values);
        removeChunks.run(self.high, self.low);
        for (const chunk of entry.chunks ?? [])
          insertChunk.run(self.high, self.low, chunk.offset, chunk.size, chunk.hash.digest);
      }
      writeCatalogTables(db, patch);
      const entries = Number(count.get());
      if (entries !== patch.entryCount)
        throw new Error(`patched catalog has ${entries} entries, expected ${patch.entryCount}`);
    })();
    const pages = Number(db.pragma('page_count', { simple: true }));
    const free = Number(db.pragma('freelist_count', { simple: true }));
    if (free > pages * VACUUM_FREE_SHARE) db.exec('VACUUM');
    return db.serialize();
  } finally {
    db.close();
  }
}

/** The `hardlinks` column: group in the high 32 bits, link count in the low; a Number while exact. */
function hardlinksField(group: number, linkcount: number): number | bigint {
  return group < 0x200000
    ? group * 0x100000000 + linkcount
    : (BigInt(group) << 32n) | BigInt(linkcount);
}

interface RawRow {
  md5path_1: bigint;
  md5path_2: bigint;
  hardlinks: bigint | null;
  hash: Buffer | null;
  size: bigint | null;
  mode: bigint;
  mtime: bigint;
  mtimens: bigint | null;
  flags: bigint;
  name: string;
  symlink: string | null;
  uid: bigint;
  gid: bigint;
  xattr: Buffer | null;
}

/**
 * The entry columns to read. `mtimens` came with schema revision 7; catalogs of revision 6 (as
 * cvmfs_server 2.11 still writes) lack it, and their mtimes are whole seconds.
 */
function entryColumns(db: Database.Database): string {
  const columns = db.prepare('PRAGMA table_info(catalog)').all() as Array<{ name: string }>;
  const mtimens = columns.some((column) => column.name === 'mtimens')
    ? 'mtimens'
    : 'NULL AS mtimens';
  return `md5path_1, md5path_2, hardlinks, hash, size, mode, mtime, ${mtimens}, flags, name, symlink, uid, gid, xattr`;
}

/** Read access to one decompressed catalog file. */
export class CatalogFile {
  private readonly db: Database.Database;
  private readonly byPath: Database.Statement;
  private readonly byParent: Database.Statement;
  private readonly chunkRows: Database.Statement;
  readonly properties: ReadonlyMap<string, string>;
  readonly mountpoint: string;
  /** Size of the uncompressed catalog file (manifest `B`, `nested_catalogs.size`). */
  readonly byteLength: number;

  constructor(bytes: Buffer) {
    this.byteLength = bytes.length;
    this.db = new Database(bytes, { readonly: true });
    const columns = entryColumns(this.db);
    this.byPath = this.db
      .prepare(`SELECT ${columns} FROM catalog WHERE md5path_1 = ? AND md5path_2 = ?`)
      .safeIntegers(true);
    this.byParent = this.db
      .prepare(`SELECT ${columns} FROM catalog WHERE parent_1 = ? AND parent_2 = ? ORDER BY rowid`)
      .safeIntegers(true);
    this.chunkRows = this.db
      .prepare(
        'SELECT offset, size, hash FROM chunks WHERE md5path_1 = ? AND md5path_2 = ? ORDER BY offset',
      )
      .safeIntegers(true);
    const rows = this.db.prepare('SELECT key, value FROM properties').all() as Array<{
      key: string;
      value: string;
    }>;
    this.properties = new Map(rows.map((row) => [row.key, String(row.value)]));
    this.mountpoint = this.properties.get('root_prefix') ?? '';
  }

  close(): void {
    this.db.close();
  }

  get revision(): number {
    return Number(this.properties.get('revision') ?? 0);
  }

  get lastModified(): number {
    return Number(this.properties.get('last_modified') ?? 0);
  }

  counters(): Counters {
    const rows = this.db.prepare('SELECT counter, value FROM statistics').all() as Array<{
      counter: string;
      value: number;
    }>;
    return countersFromRows(new Map(rows.map((row) => [row.counter, Number(row.value)])));
  }

  nested(): NestedCatalogRef[] {
    const rows = this.db
      .prepare('SELECT path, sha1, size FROM nested_catalogs ORDER BY path')
      .all() as Array<{ path: string; sha1: string; size: number }>;
    return rows.map((row) => ({ path: row.path, hashHex: row.sha1, size: Number(row.size) }));
  }

  lookup(path: string): CatalogEntry | undefined {
    const hash = pathHash(path);
    const row = this.byPath.get(hash.high, hash.low) as RawRow | undefined;
    return row === undefined ? undefined : this.toEntry(row, path);
  }

  /** Entries directly below a directory of this catalog, in row order. */
  list(path: string): CatalogEntry[] {
    const hash: PathHash = pathHash(path);
    const rows = this.byParent.all(hash.high, hash.low) as RawRow[];
    return rows.map((row) => this.toEntry(row, `${path}/${row.name}`));
  }

  /** Every entry of this catalog, parents before children (the catalog's own root first). */
  entries(): CatalogEntry[] {
    const root = this.lookup(this.mountpoint);
    if (root === undefined) throw new Error(`catalog has no root entry for "${this.mountpoint}"`);
    const result: CatalogEntry[] = [root];
    for (let i = 0; i < result.length; i++) {
      const entry = result[i]!;
      if ((entry.mode & 0o170000) === 0o040000 && entry.nestedMountpoint !== true)
        result.push(...this.list(entry.path));
    }
    return result;
  }

  /** Every object this catalog references: file contents and chunks (not nested catalogs). */
  objectHashes(): Array<{ hashHex: string; suffix: '' | 'P' }> {
    const result: Array<{ hashHex: string; suffix: '' | 'P' }> = [];
    const files = this.db
      .prepare('SELECT hash, flags FROM catalog WHERE hash IS NOT NULL')
      .all() as Array<{ hash: Buffer; flags: number }>;
    for (const row of files)
      result.push({
        hashHex: hashToHex({ algorithm: flagsHashAlgorithm(row.flags), digest: row.hash }),
        suffix: '',
      });
    const chunks = this.db
      .prepare(
        'SELECT c.hash AS hash, f.flags AS flags FROM chunks c JOIN catalog f ON f.md5path_1 = c.md5path_1 AND f.md5path_2 = c.md5path_2',
      )
      .all() as Array<{ hash: Buffer; flags: number }>;
    for (const row of chunks)
      result.push({
        hashHex: hashToHex({ algorithm: flagsHashAlgorithm(row.flags), digest: row.hash }),
        suffix: 'P',
      });
    return result;
  }

  /**
   * Every object this catalog references with the size it inflates to (whole files and chunks),
   * so that a copy can bound what it fetches for each.
   */
  contentObjects(): Array<{ hashHex: string; suffix: '' | 'P'; size: number }> {
    const files = this.db
      .prepare('SELECT hash, flags, size FROM catalog WHERE hash IS NOT NULL')
      .all() as Array<{ hash: Buffer; flags: number; size: number | bigint }>;
    const chunks = this.db
      .prepare(
        'SELECT c.hash AS hash, f.flags AS flags, c.size AS size FROM chunks c JOIN catalog f ON f.md5path_1 = c.md5path_1 AND f.md5path_2 = c.md5path_2',
      )
      .all() as Array<{ hash: Buffer; flags: number; size: number | bigint }>;
    const object =
      (suffix: '' | 'P') => (row: { hash: Buffer; flags: number; size: number | bigint }) => ({
        hashHex: hashToHex({ algorithm: flagsHashAlgorithm(row.flags), digest: row.hash }),
        suffix,
        size: Number(row.size),
      });
    return [...files.map(object('')), ...chunks.map(object('P'))];
  }

  /** The path of an entry whose content is `hashHex` (whole or a chunk), for messages. */
  pathOfContent(hashHex: string): string | undefined {
    return this.entries().find(
      (entry) =>
        (entry.hash !== undefined && hashToHex(entry.hash) === hashHex) ||
        entry.chunks?.some((chunk) => hashToHex(chunk.hash) === hashHex) === true,
    )?.path;
  }

  /** Row count and highest rowid (dense rowids starting with the root entry are expected). */
  rowStats(): { count: number; maxRowid: number; firstRowPath: bigint[] } {
    const stats = this.db.prepare('SELECT count(*) AS n, max(rowid) AS m FROM catalog').get() as {
      n: number;
      m: number;
    };
    const first = this.db
      .prepare('SELECT md5path_1, md5path_2 FROM catalog ORDER BY rowid LIMIT 1')
      .safeIntegers(true)
      .get() as { md5path_1: bigint; md5path_2: bigint } | undefined;
    return {
      count: stats.n,
      maxRowid: stats.m,
      firstRowPath: first === undefined ? [] : [first.md5path_1, first.md5path_2],
    };
  }

  private toEntry(row: RawRow, path: string): CatalogEntry {
    const flags = Number(row.flags);
    const { group, linkcount } = splitHardlinks(row.hardlinks ?? 1n);
    const algorithm = flagsHashAlgorithm(flags);
    const entry: CatalogEntry = {
      path,
      mode: Number(row.mode),
      size: Number(row.size ?? 0),
      mtime: Number(row.mtime),
      mtimeNs: row.mtimens === null ? undefined : Number(row.mtimens),
      uid: Number(row.uid),
      gid: Number(row.gid),
      hardlinkGroup: group,
      linkcount,
      hash: row.hash === null ? undefined : { algorithm, digest: Buffer.from(row.hash) },
      compression: flagsCompression(flags),
      symlink: row.symlink ?? '',
      xattrs: row.xattr === null ? undefined : decodeXattrs(Buffer.from(row.xattr)),
    };
    if ((flags & FLAG_NESTED_MOUNTPOINT) !== 0) entry.nestedMountpoint = true;
    if ((flags & FLAG_NESTED_ROOT) !== 0) entry.nestedRoot = true;
    if ((flags & FLAG_HIDDEN) !== 0) entry.hidden = true;
    if ((flags & FLAG_CHUNKED) !== 0) {
      const hash = pathHash(path);
      const chunks = this.chunkRows.all(hash.high, hash.low) as Array<{
        offset: bigint;
        size: bigint;
        hash: Buffer;
      }>;
      entry.chunks = chunks.map((c): Chunk => ({
        offset: Number(c.offset),
        size: Number(c.size),
        hash: { algorithm, digest: Buffer.from(c.hash) },
      }));
    }
    return entry;
  }
}

/** Flags of an entry as they would be written; re-exported for checks that compare raw rows. */
export { encodeFlags };
