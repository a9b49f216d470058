import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { objectPath } from '../../src/cvmfs/hash.js';
import { ContentWorkerPool } from '../../src/publisher/embedded/content-pool.js';
import { DirectoryStorage } from '../../src/storage/directory.js';
import { dryPool } from '../helpers/content-pool.js';
import { tmpdir } from '../helpers/tmp.js';

function objectHash(bytes: Buffer): string {
  return createHash('sha1').update(deflateSync(bytes)).digest('hex');
}

describe('the content worker pool', () => {
  it('stores a few files with one worker, and starts one per core once many wait', async () => {
    const { pool, dir } = await dryPool(2);
    try {
      const files = Array.from({ length: 600 }, (_, i) => {
        const file = path.join(dir, `f${i}`);
        const bytes = Buffer.from(`file ${i}\n`.repeat(1 + (i % 50)));
        writeFileSync(file, bytes);
        return { file, bytes };
      });
      const few = await Promise.all(
        files.slice(0, 3).map(({ file, bytes }) => pool.storeFile(file, bytes.length)),
      );
      expect(few.map((outcome) => outcome.content.hash)).toEqual(
        files.slice(0, 3).map(({ bytes }) => objectHash(bytes)),
      );
      expect(pool.size).toBe(1);
      const many = await Promise.all(
        files.map(({ file, bytes }) => pool.storeFile(file, bytes.length)),
      );
      expect(many.map((outcome) => outcome.content.hash)).toEqual(
        files.map(({ bytes }) => objectHash(bytes)),
      );
      expect(pool.size).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('hands out the largest waiting file first', async () => {
    const { pool, dir } = await dryPool(1);
    try {
      const sizes = { small: 1_000, large: 3 << 20, medium: 2 << 20 };
      const done: string[] = [];
      await Promise.all(
        Object.entries(sizes).map(async ([name, size]) => {
          const file = path.join(dir, name);
          writeFileSync(file, Buffer.alloc(size, name));
          await pool.storeFile(file, size);
          done.push(name);
        }),
      );
      // One batch holds at most 4 MiB: the large file alone, then the medium and the small one.
      expect(done).toEqual(['large', 'medium', 'small']);
    } finally {
      await pool.close();
    }
  });

  it('answers object checks from the listings one worker made ahead, and sees objects written since', async () => {
    const dir = await tmpdir();
    const root = path.join(dir, 'r.example.org');
    const storage = new DirectoryStorage(root);
    await storage.prepare();
    const pool = new ContentWorkerPool(
      {
        target: { kind: 'directory', root },
        algorithm: 'sha1',
        compression: 'zlib',
        chunking: undefined,
        dryRun: false,
        statePath: path.join(dir, 'none.db'),
      },
      2,
    );
    try {
      const store = (i: number): Promise<string> => {
        const file = path.join(dir, `f${i}`);
        const bytes = Buffer.from(`file ${i}\n`);
        writeFileSync(file, bytes);
        return pool
          .storeFile(file, bytes.length)
          .then((outcome) => objectPath(outcome.content.hash, ''));
      };
      // Enough objects that each of the 256 directories is worth listing rather than looking up.
      const before = await Promise.all(Array.from({ length: 4000 }, (_, i) => store(i)));
      expect(pool.size).toBe(2);
      pool.listAhead(before.length);
      expect(await pool.missing(before)).toEqual([]);
      // Written after its directory was listed: found by a lookup of its own.
      const after = `${before[0]!.slice(0, 'data/xx/'.length)}${'1'.repeat(38)}`;
      expect(await storage.putIfAbsent(after, Buffer.from('x'))).toBe(true);
      const absent = objectPath('0'.repeat(40), '');
      expect(await pool.missing([...before, after, absent])).toEqual([absent]);
    } finally {
      await pool.close();
    }
  });
});
