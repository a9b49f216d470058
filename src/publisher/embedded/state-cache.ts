import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CatalogRecord, CatalogRecordCache } from '../../reader/catalog-tree.js';
import type { StoredContent } from './content-pipeline.js';

/**
 * What a regular file looked like when its content was last stored: size, mtime and ctime in
 * nanoseconds, inode and device, as one string (compared as a whole, never parsed).
 */
export type FileStamp = string;

/** Content as a compact string: `<compression>:<hash>`, or JSON for a chunked file. */
function encodeContent(content: StoredContent): string {
  return content.chunks === undefined
    ? `${content.compression}:${content.hash}`
    : JSON.stringify(content);
}

function decodeContent(text: string): StoredContent {
  if (text.startsWith('{')) return JSON.parse(text) as StoredContent;
  const at = text.indexOf(':');
  return {
    compression: text.slice(0, at) as StoredContent['compression'],
    hash: text.slice(at + 1),
  };
}

/**
 * The publisher's local memory between runs (a cache: losing it costs time, never
 * correctness). Files unchanged since the last publish (same size, mtime, ctime and inode)
 * are not read again; content seen before (by a hash of the raw bytes) is not compressed
 * again; catalogs seen before need not be downloaded to be compared.
 */
export class StateCache implements CatalogRecordCache {
  private readonly db: Database.Database;
  private readonly files = new Map<string, { stamp: FileStamp; content: string }>();
  private readonly pendingFiles = new Map<string, { stamp: FileStamp; content: StoredContent }>();
  private readonly pendingContents = new Map<string, StoredContent>();
  private readonly pendingCatalogs: CatalogRecord[] = [];

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS file_stamps (source TEXT PRIMARY KEY, stamp TEXT NOT NULL, content TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS contents (raw TEXT PRIMARY KEY, content TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS catalogs (hash TEXT PRIMARY KEY, record TEXT NOT NULL);
    `);
  }

  /** Loads the file stamps below one source tree (one query instead of one per file). */
  loadTree(sourceRoot: string): void {
    const rows = this.db
      .prepare(
        'SELECT source, stamp, content FROM file_stamps WHERE source = ? OR (source >= ? AND source < ?)',
      )
      .all(sourceRoot, `${sourceRoot}/`, `${sourceRoot}0`) as Array<{
      source: string;
      stamp: string;
      content: string;
    }>;
    for (const row of rows) this.files.set(row.source, { stamp: row.stamp, content: row.content });
  }

  fileContent(source: string, stamp: FileStamp): StoredContent | undefined {
    const known = this.files.get(source);
    return known?.stamp === stamp ? decodeContent(known.content) : undefined;
  }

  rememberFile(source: string, stamp: FileStamp, content: StoredContent): void {
    this.pendingFiles.set(source, { stamp, content });
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

  /** Writes what this run learned; called only after the publish succeeded. */
  commit(): void {
    const putFile = this.db.prepare(
      'INSERT OR REPLACE INTO file_stamps (source, stamp, content) VALUES (?, ?, ?)',
    );
    const putContent = this.db.prepare(
      'INSERT OR REPLACE INTO contents (raw, content) VALUES (?, ?)',
    );
    const putCatalog = this.db.prepare(
      'INSERT OR REPLACE INTO catalogs (hash, record) VALUES (?, ?)',
    );
    this.db.transaction(() => {
      for (const [source, { stamp, content }] of this.pendingFiles)
        putFile.run(source, stamp, encodeContent(content));
      for (const [raw, content] of this.pendingContents)
        putContent.run(raw, JSON.stringify(content));
      for (const record of this.pendingCatalogs)
        putCatalog.run(record.hashHex, JSON.stringify(record));
    })();
    this.pendingFiles.clear();
    this.pendingContents.clear();
    this.pendingCatalogs.length = 0;
  }

  /** Forgets everything that refers to objects that no longer exist (after garbage collection). */
  forgetObjects(removed: ReadonlySet<string>): void {
    const drop = (table: string, key: string): void => {
      const rows = this.db.prepare(`SELECT ${key} AS k, content FROM ${table}`).all() as Array<{
        k: string;
        content: string;
      }>;
      const del = this.db.prepare(`DELETE FROM ${table} WHERE ${key} = ?`);
      for (const row of rows) {
        const content = decodeContent(row.content);
        if (storedObjectHashes(content).some((hash) => removed.has(hash))) del.run(row.k);
      }
    };
    this.db.transaction(() => {
      drop('file_stamps', 'source');
      drop('contents', 'raw');
      const del = this.db.prepare('DELETE FROM catalogs WHERE hash = ?');
      for (const hash of removed) del.run(hash);
    })();
  }

  close(): void {
    this.db.close();
  }
}

export function storedObjectHashes(content: StoredContent): string[] {
  return content.chunks === undefined ? [content.hash] : content.chunks.map((chunk) => chunk.hash);
}
