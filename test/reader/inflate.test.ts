import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { inflateStream } from '../../src/reader/inflate.js';

async function* pieces(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) {
    await Promise.resolve();
    yield bytes.subarray(at, at + size);
  }
}

async function inflateAll(bytes: Buffer, limit = 1 << 30, size = 4096): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of inflateStream(pieces(bytes, size), limit, 'object x')) out.push(piece);
  return Buffer.concat(out);
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('inflateStream', () => {
  const content = Buffer.from(
    Array.from({ length: 200_000 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join(''),
  );
  const compressed = deflateSync(content);

  it('inflates a stream fed in pieces', async () => {
    expect(await inflateAll(compressed)).toEqual(content);
  });

  it('fails on damaged compressed data with OBJECT_CORRUPT, and does not hang', async () => {
    for (const at of [2, 10, Math.floor(compressed.length / 2), compressed.length - 5]) {
      const damaged = Buffer.from(compressed);
      damaged[at] = damaged[at]! ^ 0xff;
      // Whole, and in pieces: zlib fails in either, and a failed write must still settle.
      expect(isUcvmError(await failure(inflateAll(damaged, 1 << 30, damaged.length)))).toBe(true);
      const error = await failure(inflateAll(damaged));
      // A flip may still inflate (to other bytes, caught by the hash): never a hang.
      if (error !== undefined) expect(isUcvmError(error, 'OBJECT_CORRUPT'), String(at)).toBe(true);
    }
    const garbage = Buffer.concat([compressed.subarray(0, 2), Buffer.alloc(5000, 0xff)]);
    expect(isUcvmError(await failure(inflateAll(garbage)), 'OBJECT_CORRUPT')).toBe(true);
  }, 10_000);

  it('stops at the limit', async () => {
    const error = await failure(inflateAll(compressed, 1000));
    expect(isUcvmError(error, 'OBJECT_CORRUPT')).toBe(true);
    expect((error as Error).message).toBe('object x inflates to more than 1000 bytes');
  });
});
