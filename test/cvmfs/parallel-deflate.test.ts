import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { adler32, compress, compressParallel, PARALLEL_PART } from '../../src/cvmfs/compression.js';
import { pythonInflate } from '../helpers/independent.js';
import { tmpdir } from '../helpers/tmp.js';

/** Half text, half incompressible hashes, like a catalog: deterministic. */
function catalogLike(size: number): Buffer {
  const pieces: Buffer[] = [];
  for (let i = 0, length = 0; length < size; i++) {
    const piece = Buffer.concat([
      Buffer.from(`usr/lib/python3/dist-packages/module${i % 977}.py\0`),
      createHash('sha1').update(String(i)).digest(),
    ]);
    pieces.push(piece);
    length += piece.length;
  }
  return Buffer.concat(pieces).subarray(0, size);
}

describe('zlib in parts deflated side by side', () => {
  it("computes Adler-32 as Python's zlib does", async () => {
    const work = await tmpdir();
    for (const size of [0, 1, 5551, 5552, 5553, 100_000, 3_000_001]) {
      const file = path.join(work, `bytes-${size}`);
      writeFileSync(file, catalogLike(size));
      const python = execFileSync(
        'python3',
        ['-c', 'import sys, zlib; print(zlib.adler32(open(sys.argv[1], "rb").read()))', file],
        { encoding: 'utf8' },
      );
      expect(await adler32(catalogLike(size)), `${size} bytes`).toBe(Number(python.trim()));
    }
  });

  it.each([0, 1000, PARALLEL_PART, PARALLEL_PART + 1, 2 * PARALLEL_PART, 3_400_000])(
    'writes one zlib stream that stock zlib inflates to the input (%d bytes)',
    async (size) => {
      const bytes = catalogLike(size);
      const stored = await compressParallel(bytes);
      expect(inflateSync(stored).equals(bytes)).toBe(true);
      const file = path.join(await tmpdir(), 'object');
      writeFileSync(file, stored);
      expect(pythonInflate(file).equals(bytes)).toBe(true);
      // The same input gives the same bytes; one part is compressed as before.
      expect((await compressParallel(bytes)).equals(stored)).toBe(true);
      if (size <= PARALLEL_PART) expect(stored.equals(compress(bytes))).toBe(true);
      // Priming each part with the window before it keeps the size near one stream's.
      expect(stored.length).toBeLessThan(compress(bytes).length * 1.01 + 64);
    },
  );
});
