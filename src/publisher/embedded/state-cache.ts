import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { decodeXattrs, encodeXattrs, type Xattrs } from '../../cvmfs/catalog/xattr.js';
import type { CatalogRecord, CatalogRecordCache } from '../../reader/catalog-tree.js';
import { decodeContent, encodeContent, type StoredContent } from './stored-content.js';
import { storageError } from '../../storage/errors.js';
import type { TreeNode } from './tree.js';

/**
 * What an entry of the source tree looked like when it was last published: type and mode,
 * owner, size, mtime and ctime in nanoseconds, inode, device and link count, as one string
 * (compared as a whole, never parsed). Any change of content, mode, owner, links or extended
 * attributes changes the ctime, so an entry with the same stamp has the same catalog row.
 */
export type FileStamp = string;

export function stampOf(node: TreeNode): FileStamp {
  return node.stamp ?? stampOfFields(node);
}

/** The stamp printed from the node's fields; the native lister prints the same (list-directory.c). */
export function stampOfFields(node: TreeNode): FileStamp {
  return `${node.mode}:${node.uid}:${node.gid}:${node.size}:${node.mtime}.${node.mtimeNs}:${node.ctimeNs}:${node.ino}:${node.dev}:${node.nlink}:${node.rdev}`;
}

/** Which tree the stamps describe: the source (tree and settings) and the root catalog it was published as. */
export interface PublishedTree {
  tree: string;
  rootCatalog: string;
}

/** Which storage, at which revision, the whole spool describes (see `StateCache.bind`). */
export interface SpoolBinding {
  storageId: string;
  revision: number;
  rootCatalog: string;
}

/** The spool's layout; a spool of another (older) layout is emptied and made anew. */
const SCHEMA_VERSION = 3;

/** The extended attributes of an entry as the spool keeps them: the catalog's blob, in hex ('' for none). */
function xattrsText(xattrs: Xattrs | undefined): string {
  return xattrs === undefined ? '' : (encodeXattrs(xattrs)?.toString('hex') ?? '');
}

/** An entry whose stamp is recorded: its extended attributes are read when the spool is written. */
export interface StampedEntry {
  xattrs?: Xattrs;
}

/** Rows of stamps loaded in one string (see loadTree). */
const LOAD_PAGE_ROWS = 32768;

/** True if a loaded `<stamp>\n<content>` is of this stamp. */
function knownAs(known: string, stamp: FileStamp): boolean {
  return known.startsWith(stamp) && known.charCodeAt(stamp.length) === 10;
}

/**
 * The publisher's local memory between runs (a cache: losing it costs time, never
 * correctness). Files unchanged since the last publish (same size, mtime, ctime and inode)
 * are not read again; content seen before (by a hash of the raw bytes) is not compressed
 * again; catalogs seen before need not be downloaded to be compared.
 */
export class StateCache implements CatalogRecordCache {
  private readonly db: Database.Database;
  /** Source → `<stamp>\n<content>`: one string per entry, half the allocations of an object. */
  private readonly files = new Map<string, string>();
  /** Source → extended attributes (see xattrsText), for the loaded entries that have any. */
  private readonly xattrs = new Map<string, string>();
  private readonly pendingFiles = new Map<
    string,
    { stamp: FileStamp; content: StoredContent | undefined; entry: StampedEntry | undefined }
  >();
  /** Entries whose stamp stays but whose recorded extended attributes are replaced. */
  private readonly pendingXattrs = new Map<string, string>();
  private readonly pendingRemovals: string[] = [];
  private readonly pendingContents = new Map<string, StoredContent>();
  private readonly pendingCatalogs: CatalogRecord[] = [];
  private staged = false;
  private writesAhead = false;
  /** Why writing ahead failed: the spool then learns nothing this run (see stage). */
  private aheadFailed: Error | undefined;

  constructor(private readonly path: string) {
    this.db = this.onSpool(() => {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      // A commit lost to a power failure leaves the spool at an earlier binding, which the next
      // publish sees and forgets (see bind); a lost forgetObjects is caught by the existence
      // checks of every publish. Durability would only cost a flush per publish.
      db.pragma('synchronous = NORMAL');
      return db;
    });
    this.onSpool(() => this.migrate());
  }

  /** A cache: a spool of another layout is forgotten, not converted (one slower publish). */
  private migrate(): void {
    if (this.db.pragma('user_version', { simple: true }) === SCHEMA_VERSION) return;
    this.db.transaction(() => {
      for (const table of ['file_stamps', 'contents', 'catalogs', 'published', 'binding'])
        this.db.exec(`DROP TABLE IF EXISTS ${table}`);
      // Without rowid: the stamps of a tree are one range of the primary key, read in order.
      this.db.exec(`
      CREATE TABLE file_stamps (source TEXT PRIMARY KEY, stamp TEXT NOT NULL, content TEXT NOT NULL, xattrs TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
      CREATE TABLE contents (raw TEXT PRIMARY KEY, content TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE catalogs (hash TEXT PRIMARY KEY, record TEXT NOT NULL);
      CREATE TABLE published (id INTEGER PRIMARY KEY CHECK (id = 1), tree TEXT NOT NULL, root_catalog TEXT NOT NULL);
      CREATE TABLE binding (id INTEGER PRIMARY KEY CHECK (id = 1), storage_id TEXT NOT NULL, revision INTEGER NOT NULL, root_catalog TEXT NOT NULL);
    `);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  /** A full or unwritable spool is a storage error naming the spool, not a raw SQLite error. */
  private onSpool<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw storageError(error, this.path, 'write the spool');
    }
  }

  /**
   * Checks that the spool describes this storage at this revision; if it does not (another
   * storage, a restored or re-created one, a revision published elsewhere, or a spool from
   * before bindings), forgets everything it knows. Returns true if it forgot.
   */
  bind(binding: SpoolBinding): boolean {
    return this.onSpool(() => this.bindNow(binding));
  }

  private bindNow(binding: SpoolBinding): boolean {
    const row = this.db
      .prepare('SELECT storage_id AS storageId, revision, root_catalog AS rootCatalog FROM binding')
      .get() as SpoolBinding | undefined;
    if (
      row !== undefined &&
      row.storageId === binding.storageId &&
      row.revision === binding.revision &&
      row.rootCatalog === binding.rootCatalog
    )
      return false;
    const known = this.db.prepare('SELECT count(*) FROM file_stamps').pluck().get() as number;
    this.db.transaction(() => {
      for (const table of ['file_stamps', 'contents', 'catalogs', 'published', 'binding'])
        this.db.prepare(`DELETE FROM ${table}`).run();
      this.db
        .prepare('INSERT INTO binding (id, storage_id, revision, root_catalog) VALUES (1, ?, ?, ?)')
        .run(binding.storageId, binding.revision, binding.rootCatalog);
    })();
    this.files.clear();
    this.xattrs.clear();
    return row !== undefined || known > 0;
  }

  /**
   * Loads the stamps below one source tree. They come as one string per page of rows (a row
   * each made an array and two strings), split here at NUL, which no path or stamp holds.
   * Returns how many entries are known.
   */
  loadTree(sourceRoot: string): number {
    const own = this.db
      .prepare('SELECT stamp || char(10) || content FROM file_stamps WHERE source = ?')
      .pluck()
      .get(sourceRoot) as string | undefined;
    if (own !== undefined) this.files.set(sourceRoot, own);
    const withXattrs = this.db
      .prepare(
        "SELECT source, xattrs FROM file_stamps WHERE (source = ? OR (source > ? AND source < ?)) AND xattrs != ''",
      )
      .raw()
      .all(sourceRoot, `${sourceRoot}/`, `${sourceRoot}0`) as Array<[string, string]>;
    for (const [source, xattrs] of withXattrs) this.xattrs.set(source, xattrs);
    // Each row comes as source, NUL, then `<stamp>\n<content>` as the map keeps it.
    const page = this.db
      .prepare(
        `SELECT max(source), group_concat(source || char(0) || stamp || char(10) || content, char(0))
         FROM (SELECT source, stamp, content FROM file_stamps WHERE source > ? AND source < ?
               ORDER BY source LIMIT ${LOAD_PAGE_ROWS})`,
      )
      .raw();
    // `${sourceRoot}/` itself is never a source: every one below the root has a name after it.
    let after = `${sourceRoot}/`;
    for (;;) {
      const [last, rows] = page.get(after, `${sourceRoot}0`) as [string | null, string | null];
      if (last === null || rows === null) return this.files.size;
      const fields = rows.split('\0');
      for (let i = 0; i + 1 < fields.length; i += 2) this.files.set(fields[i]!, fields[i + 1]!);
      after = last;
    }
  }

  fileContent(source: string, stamp: FileStamp): StoredContent | undefined {
    const known = this.files.get(source);
    // Stamps hold no line break; content follows the stamp's.
    return known !== undefined && knownAs(known, stamp) && known.length > stamp.length + 1
      ? decodeContent(known.slice(stamp.length + 1))
      : undefined;
  }

  /** True if an entry (of any type) had this stamp when last published. */
  sameStamp(source: string, stamp: FileStamp): boolean {
    const known = this.files.get(source);
    return known !== undefined && knownAs(known, stamp);
  }

  /** True if any loaded entry had extended attributes when last published. */
  get recordsXattrs(): boolean {
    return this.xattrs.size > 0;
  }

  /**
   * The extended attributes of a loaded entry when it was last published: still its own if its
   * stamp is the same (any change of them changes the ctime, so the stamp).
   */
  recordedXattrs(source: string): Xattrs | undefined {
    const text = this.xattrs.get(source);
    return text === undefined ? undefined : decodeXattrs(Buffer.from(text, 'hex'));
  }

  /** `entry`'s extended attributes are recorded with the stamp, as they are when the spool is written. */
  rememberFile(
    source: string,
    stamp: FileStamp,
    content: StoredContent,
    entry?: StampedEntry,
  ): void {
    this.pendingFiles.set(source, { stamp, content, entry });
  }

  /** The stamp of an entry that is not a regular file. */
  rememberEntry(source: string, stamp: FileStamp, entry?: StampedEntry): void {
    this.pendingFiles.set(source, { stamp, content: undefined, entry });
  }

  /**
   * Records the extended attributes of entries read afresh whose stamps stay: where the spool
   * did not know them (they were not read at its last publish) it learns them now.
   */
  rememberXattrs(entries: Iterable<{ source: string; xattrs?: Xattrs }>): void {
    for (const { source, xattrs } of entries) {
      // Nearly every entry: none now, none recorded.
      if (xattrs === undefined && !this.xattrs.has(source)) continue;
      const text = xattrsText(xattrs);
      if (text !== (this.xattrs.get(source) ?? '')) this.pendingXattrs.set(source, text);
    }
  }

  /**
   * Sources of the loaded tree that are not among `present` (entries removed since); forgotten
   * at commit. When every loaded source is present (the common case), no set of them is made.
   */
  removedEntries(present: readonly string[]): string[] {
    let known = 0;
    for (const source of present) if (this.files.has(source)) known++;
    if (known === this.files.size) return [];
    const kept = new Set(present);
    const removed: string[] = [];
    for (const source of this.files.keys()) if (!kept.has(source)) removed.push(source);
    this.pendingRemovals.push(...removed);
    return removed;
  }

  /** The tree the stamps describe, if the last commit was a publish. */
  lastPublished(): PublishedTree | undefined {
    const row = this.db.prepare('SELECT tree, root_catalog FROM published').get() as
      { tree: string; root_catalog: string } | undefined;
    return row === undefined ? undefined : { tree: row.tree, rootCatalog: row.root_catalog };
  }

  rememberRawContent(rawKey: string, content: StoredContent): void {
    this.pendingContents.set(rawKey, content);
  }

  catalog(hashHex: string): CatalogRecord | undefined {
    const row = this.db
      .prepare('SELECT record FROM catalogs WHERE hash = ?')
      .pluck()
      .get(hashHex) as string | undefined;
    return row === undefined ? undefined : (JSON.parse(row) as CatalogRecord);
  }

  rememberCatalog(record: CatalogRecord): void {
    this.pendingCatalogs.push(record);
  }

  /**
   * Writes what this run learned; called only after the publish succeeded. `published` says
   * which revision the stamps now describe; without it (a dry run) they describe none.
   */
  commit(published?: PublishedTree, binding?: SpoolBinding): void {
    this.stage(published, binding);
    this.commitStaged();
  }

  /**
   * From now on, what this run learns may be written as it comes (see writeAhead): the entries
   * remembered so far and later are final, their extended attributes included.
   */
  allowWriteAhead(): void {
    this.writesAhead = true;
  }

  /**
   * Writes the stamps and raw contents learned so far, once there are at least `rows` of them
   * and writing ahead is allowed, into the transaction that `stage()` completes: a full publish
   * writes most of the spool while the workers store the contents, not after.
   */
  writeAhead(rows: number): void {
    if (!this.writesAhead || this.pendingFiles.size + this.pendingContents.size < rows) return;
    try {
      this.onSpool(() => {
        this.begin();
        this.writeLearned();
      });
    } catch (error) {
      // Not the publish's failure: stage() reports it, and the spool is only slower next time.
      this.writesAhead = false;
      this.aheadFailed = error as Error;
    }
  }

  /**
   * Writes what this run learned in a transaction left open, so that the writing can overlap
   * the storage's flush: `commitStaged()` keeps it once the publish has succeeded, `close()`
   * without it drops it.
   */
  stage(published?: PublishedTree, binding?: SpoolBinding): void {
    if (this.aheadFailed !== undefined) throw this.aheadFailed;
    this.onSpool(() => {
      this.begin();
      this.writePending(published, binding);
      this.staged = true;
    });
  }

  commitStaged(): void {
    if (!this.staged) return;
    this.onSpool(() => this.db.exec('COMMIT'));
    this.staged = false;
    this.pendingXattrs.clear();
    this.pendingRemovals.length = 0;
    this.pendingCatalogs.length = 0;
  }

  /** Opens the transaction that holds rows written ahead and the staged rest, once. */
  private begin(): void {
    if (!this.db.inTransaction) this.db.exec('BEGIN');
  }

  /** The stamps and raw contents learned, written and forgotten here. */
  private writeLearned(): void {
    const putFile = this.db.prepare(
      'INSERT OR REPLACE INTO file_stamps (source, stamp, content, xattrs) VALUES (?, ?, ?, ?)',
    );
    const putContent = this.db.prepare(
      'INSERT OR REPLACE INTO contents (raw, content) VALUES (?, ?)',
    );
    for (const [source, { stamp, content, entry }] of this.pendingFiles)
      putFile.run(
        source,
        stamp,
        content === undefined ? '' : encodeContent(content),
        xattrsText(entry?.xattrs),
      );
    for (const [raw, content] of this.pendingContents) putContent.run(raw, encodeContent(content));
    this.pendingFiles.clear();
    this.pendingContents.clear();
  }

  private writePending(published?: PublishedTree, binding?: SpoolBinding): void {
    const putXattrs = this.db.prepare('UPDATE file_stamps SET xattrs = ? WHERE source = ?');
    const putCatalog = this.db.prepare(
      'INSERT OR REPLACE INTO catalogs (hash, record) VALUES (?, ?)',
    );
    const removeFile = this.db.prepare('DELETE FROM file_stamps WHERE source = ?');
    for (const source of this.pendingRemovals) removeFile.run(source);
    for (const [source, text] of this.pendingXattrs) putXattrs.run(text, source);
    this.writeLearned();
    for (const record of this.pendingCatalogs)
      putCatalog.run(record.hashHex, JSON.stringify(record));
    this.db.prepare('DELETE FROM published').run();
    if (published !== undefined)
      this.db
        .prepare('INSERT INTO published (id, tree, root_catalog) VALUES (1, ?, ?)')
        .run(published.tree, published.rootCatalog);
    if (binding !== undefined)
      this.db
        .prepare(
          'INSERT OR REPLACE INTO binding (id, storage_id, revision, root_catalog) VALUES (1, ?, ?, ?)',
        )
        .run(binding.storageId, binding.revision, binding.rootCatalog);
  }

  /** Forgets everything that refers to objects that no longer exist (after garbage collection). */
  forgetObjects(removed: ReadonlySet<string>): void {
    this.onSpool(() => this.forgetNow(removed));
  }

  private forgetNow(removed: ReadonlySet<string>): void {
    const drop = (table: string, key: string): void => {
      const rows = this.db.prepare(`SELECT ${key} AS k, content FROM ${table}`).all() as Array<{
        k: string;
        content: string;
      }>;
      const del = this.db.prepare(`DELETE FROM ${table} WHERE ${key} = ?`);
      for (const row of rows) {
        if (row.content === '') continue;
        const content = decodeContent(row.content);
        if (storedObjectHashes(content).some((hash) => removed.has(hash))) del.run(row.k);
      }
    };
    this.db.transaction(() => {
      // Stamps without their content no longer describe a published tree.
      this.db.prepare('DELETE FROM published').run();
      drop('file_stamps', 'source');
      drop('contents', 'raw');
      const del = this.db.prepare('DELETE FROM catalogs WHERE hash = ?');
      for (const hash of removed) del.run(hash);
    })();
  }

  /**
   * Closes the cache; what was written ahead or staged and not committed is dropped (SQLite may
   * have rolled it back already, after a failed write).
   */
  close(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.db.close();
  }
}

export function storedObjectHashes(content: StoredContent): string[] {
  return content.chunks === undefined ? [content.hash] : content.chunks.map((chunk) => chunk.hash);
}
