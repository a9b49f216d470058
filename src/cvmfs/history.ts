import Database from 'better-sqlite3';
import { HISTORY_DDL, HISTORY_SCHEMA, HISTORY_SCHEMA_REVISION } from './catalog/schema.js';

/** A named snapshot: a tag row of the history database. */
export interface Tag {
  name: string;
  /** Hex hash of the tagged root catalog (no suffix). */
  hashHex: string;
  revision: number;
  /** The tagged root catalog's `last_modified`. */
  timestamp: number;
  description: string;
  /** Uncompressed size of the tagged root catalog. */
  size: number;
  branch: string;
}

export const TRUNK = 'trunk';
export const TRUNK_PREVIOUS = 'trunk-previous';

/** The history (tag) database `H`, edited in memory and serialized back. */
export class HistoryDatabase {
  private constructor(private readonly db: Database.Database) {}

  static create(fqrn: string): HistoryDatabase {
    const db = new Database(':memory:');
    db.exec(HISTORY_DDL);
    const set = db.prepare('INSERT INTO properties (key, value) VALUES (?, ?)');
    set.run('schema', HISTORY_SCHEMA);
    set.run('schema_revision', String(HISTORY_SCHEMA_REVISION));
    set.run('fqrn', fqrn);
    set.run('previous_revision', '0'.repeat(40));
    return new HistoryDatabase(db);
  }

  /** Opens a decompressed history file; edits stay in memory until `serialize`. */
  static open(bytes: Buffer): HistoryDatabase {
    const db = new Database(bytes);
    const schema = db.prepare("SELECT value FROM properties WHERE key = 'schema'").pluck().get();
    if (String(schema) !== HISTORY_SCHEMA)
      throw new Error(`history database has schema ${String(schema)}, expected ${HISTORY_SCHEMA}`);
    return new HistoryDatabase(db);
  }

  property(key: string): string | undefined {
    const value = this.db.prepare('SELECT value FROM properties WHERE key = ?').pluck().get(key) as
      string | number | null | undefined;
    return value === undefined || value === null ? undefined : String(value);
  }

  setProperty(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO properties (key, value) VALUES (?, ?)').run(key, value);
  }

  /** Tags newest first (timestamp, then revision), as `cvmfs_server tag -l -x` lists them. */
  tags(): Tag[] {
    const rows = this.db
      .prepare(
        'SELECT name, hash, revision, timestamp, description, size, branch FROM tags ORDER BY timestamp DESC, revision DESC, name',
      )
      .all() as Array<{
      name: string;
      hash: string;
      revision: number;
      timestamp: number;
      description: string | null;
      size: number;
      branch: string | null;
    }>;
    return rows.map((row) => ({
      name: row.name,
      hashHex: row.hash,
      revision: Number(row.revision),
      timestamp: Number(row.timestamp),
      description: row.description ?? '',
      size: Number(row.size),
      branch: row.branch ?? '',
    }));
  }

  get(name: string): Tag | undefined {
    return this.tags().find((tag) => tag.name === name);
  }

  put(tag: Tag): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO tags (name, hash, revision, timestamp, channel, description, size, branch) VALUES (?, ?, ?, ?, 0, ?, ?, ?)',
      )
      .run(
        tag.name,
        tag.hashHex,
        tag.revision,
        tag.timestamp,
        tag.description,
        tag.size,
        tag.branch,
      );
  }

  remove(name: string): boolean {
    return this.db.prepare('DELETE FROM tags WHERE name = ?').run(name).changes > 0;
  }

  serialize(): Buffer {
    return this.db.serialize();
  }

  close(): void {
    this.db.close();
  }
}
