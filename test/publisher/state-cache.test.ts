import Database from 'better-sqlite3';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateCache } from '../../src/publisher/embedded/state-cache.js';
import { tmpdir } from '../helpers/tmp.js';

const STAMP = '33188:0:0:6:1.0:1:42:7:1:0';
const CONTENT = { hash: 'a'.repeat(40), compression: 'zlib' as const };
const BINDING = { storageId: 'b'.repeat(32), revision: 3, rootCatalog: 'c'.repeat(40) };

describe('the spool learns a revision only when it is published', () => {
  it('drops what was staged when it is closed without a commit', async () => {
    const file = path.join(await tmpdir(), 'state.db');
    const cache = new StateCache(file);
    cache.rememberFile('/tree/a', STAMP, CONTENT);
    cache.rememberRawContent('raw-key', CONTENT);
    cache.stage({ tree: '/tree', rootCatalog: BINDING.rootCatalog }, BINDING);
    cache.close();

    const db = new Database(file, { readonly: true });
    for (const table of ['file_stamps', 'contents', 'published', 'binding'])
      expect(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get(), table).toBe(0);
    db.close();
  });

  it('keeps what was staged once it is committed', async () => {
    const file = path.join(await tmpdir(), 'state.db');
    const cache = new StateCache(file);
    cache.rememberFile('/tree/a', STAMP, CONTENT);
    cache.stage({ tree: '/tree', rootCatalog: BINDING.rootCatalog }, BINDING);
    cache.commitStaged();
    cache.close();

    const reopened = new StateCache(file);
    expect(reopened.bind(BINDING)).toBe(false);
    reopened.loadTree('/tree');
    expect(reopened.fileContent('/tree/a', STAMP)).toEqual(CONTENT);
    expect(reopened.lastPublished()).toEqual({ tree: '/tree', rootCatalog: BINDING.rootCatalog });
    reopened.close();
  });

  it('writes ahead only once allowed, and keeps what it wrote only when the publish commits', async () => {
    const rows = (file: string): number => {
      const db = new Database(file, { readonly: true });
      const count = db.prepare('SELECT count(*) FROM file_stamps').pluck().get() as number;
      db.close();
      return count;
    };
    for (const outcome of ['committed', 'dropped'] as const) {
      const file = path.join(await tmpdir(), 'state.db');
      const cache = new StateCache(file);
      const entry: { xattrs?: Map<string, Buffer> } = {};
      cache.rememberFile('/tree/a', STAMP, CONTENT, entry);
      cache.writeAhead(1);
      // Not allowed yet: the entry's attributes may still come, and they do.
      entry.xattrs = new Map([['user.a', Buffer.from('1')]]);
      cache.allowWriteAhead();
      cache.rememberFile('/tree/b', STAMP, CONTENT);
      cache.writeAhead(3);
      cache.rememberRawContent('raw-key', CONTENT);
      cache.writeAhead(3);
      // Written in this connection's open transaction: not yet seen from outside.
      expect(rows(file)).toBe(0);
      cache.rememberFile('/tree/c', STAMP, CONTENT);
      if (outcome === 'committed') {
        cache.stage({ tree: '/tree', rootCatalog: BINDING.rootCatalog }, BINDING);
        cache.commitStaged();
      }
      cache.close();
      expect(rows(file), outcome).toBe(outcome === 'committed' ? 3 : 0);
      if (outcome === 'dropped') continue;
      const reopened = new StateCache(file);
      reopened.loadTree('/tree');
      for (const source of ['/tree/a', '/tree/b', '/tree/c'])
        expect(reopened.fileContent(source, STAMP), source).toEqual(CONTENT);
      expect(reopened.recordedXattrs('/tree/a')).toEqual(new Map([['user.a', Buffer.from('1')]]));
      reopened.close();
    }
  });

  it('loads every stamp below a tree, over several pages, and none beside it', async () => {
    const file = path.join(await tmpdir(), 'state.db');
    const cache = new StateCache(file);
    const sources = ['/tree', '/tree/a\nb', '/tree/\u00e9t\u00e9'];
    for (let i = 0; i < 70_000; i++) sources.push(`/tree/d${i % 300}/f${i}`);
    for (const source of sources) cache.rememberFile(source, STAMP, CONTENT);
    for (const beside of ['/tree2/x', '/tree.x', '/tre', '/'])
      cache.rememberFile(beside, STAMP, CONTENT);
    cache.rememberEntry('/tree/dir', STAMP);
    cache.commit({ tree: '/tree', rootCatalog: BINDING.rootCatalog }, BINDING);
    cache.close();

    const reopened = new StateCache(file);
    reopened.loadTree('/tree');
    for (const source of sources)
      expect(reopened.fileContent(source, STAMP), source).toEqual(CONTENT);
    expect(reopened.sameStamp('/tree/dir', STAMP)).toBe(true);
    expect(reopened.fileContent('/tree/dir', STAMP)).toBeUndefined();
    // Everything loaded is there: nothing removed. Two entries gone: those two, and no other.
    const loaded = [...sources, '/tree/dir'];
    expect(reopened.removedEntries(loaded)).toEqual([]);
    expect(reopened.removedEntries(loaded.filter((_, i) => i !== 1 && i !== 5)).sort()).toEqual(
      [loaded[1]!, loaded[5]!].sort(),
    );
    reopened.close();
  });

  it('forgets a spool of an older layout instead of misreading it', async () => {
    const file = path.join(await tmpdir(), 'state.db');
    const old = new Database(file);
    old.exec(`
      CREATE TABLE file_stamps (source TEXT PRIMARY KEY, stamp TEXT NOT NULL, content TEXT NOT NULL);
      CREATE TABLE published (id INTEGER PRIMARY KEY CHECK (id = 1), tree TEXT NOT NULL, root_catalog TEXT NOT NULL);
      INSERT INTO file_stamps VALUES ('/tree/a', '${STAMP}', 'zlib:${'a'.repeat(40)}');
      INSERT INTO published VALUES (1, '/tree', '${'c'.repeat(40)}');
    `);
    old.close();

    const cache = new StateCache(file);
    expect(cache.lastPublished()).toBeUndefined();
    cache.loadTree('/tree');
    expect(cache.fileContent('/tree/a', STAMP)).toBeUndefined();
    cache.rememberFile('/tree/a', STAMP, CONTENT, {
      xattrs: new Map([['user.mark', Buffer.from('x')]]),
    });
    cache.commit({ tree: '/tree', rootCatalog: BINDING.rootCatalog }, BINDING);
    cache.close();
    const reopened = new StateCache(file);
    reopened.loadTree('/tree');
    expect(reopened.fileContent('/tree/a', STAMP)).toEqual(CONTENT);
    expect(reopened.recordedXattrs('/tree/a')).toEqual(new Map([['user.mark', Buffer.from('x')]]));
    reopened.close();
  });
});
