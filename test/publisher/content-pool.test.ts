import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { dryPool } from '../helpers/content-pool.js';

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
});
