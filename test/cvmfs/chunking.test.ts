import { describe, expect, it } from 'vitest';
import { Chunker, chunkLengths, cutPoint, type ChunkingOptions } from '../../src/cvmfs/chunking.js';

const options: ChunkingOptions = { minSize: 1024, averageSize: 4096, maxSize: 8192 };

function pseudoRandom(length: number, seed: number): Buffer {
  const data = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

/** Chunk lengths as a content worker cuts them: cutPoint over one window at a time. */
function cutsInPlace(data: Buffer, chunking: ChunkingOptions): number[] {
  const lengths: number[] = [];
  for (let at = 0; at < data.length;) {
    const window = data.subarray(at, at + chunking.maxSize);
    const cut = cutPoint(window, window.length, chunking);
    lengths.push(cut);
    at += cut;
  }
  return lengths;
}

describe('content-defined chunking', () => {
  it('cuts within the size bounds and covers every byte once', () => {
    const data = pseudoRandom(200_000, 7);
    const lengths = chunkLengths(data, options);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const length of lengths.slice(0, -1)) {
      expect(length).toBeGreaterThanOrEqual(options.minSize + 1);
      expect(length).toBeLessThanOrEqual(options.maxSize);
    }
    const mean = data.length / lengths.length;
    expect(mean).toBeGreaterThan(options.minSize);
    expect(mean).toBeLessThan(options.maxSize);
  });

  it('does not depend on how the input is split into pieces', () => {
    const data = pseudoRandom(100_000, 11);
    const whole = chunkLengths(data, options);
    for (const pieceSize of [1, 7, 1000, 4096, 65_536]) {
      const chunker = new Chunker(options);
      const chunks: Buffer[] = [];
      for (let at = 0; at < data.length; at += pieceSize)
        chunks.push(...chunker.push(data.subarray(at, at + pieceSize)));
      chunks.push(...chunker.finish());
      expect(chunks.map((c) => c.length)).toEqual(whole);
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
    }
  });

  it('keeps the cuts after an edit in the middle (content-defined)', () => {
    const data = pseudoRandom(300_000, 3);
    const before = chunkLengths(data, options);
    const edited = Buffer.from(data);
    edited.write('EDIT', 150_000);
    const after = chunkLengths(edited, options);
    const cuts = (lengths: number[]): Set<number> => {
      let at = 0;
      return new Set(lengths.map((length) => (at += length)));
    };
    const shared = [...cuts(before)].filter((cut) => cuts(after).has(cut));
    expect(shared.length).toBeGreaterThan(before.length - 4);
  });

  it('cuts in place where the streaming chunker cuts, one window at a time', () => {
    for (const [length, seed] of [
      [300_000, 5],
      [options.maxSize * 4, 9],
      [options.minSize + 1, 13],
      [options.maxSize, 17],
      [50, 19],
    ] as const) {
      const data = pseudoRandom(length, seed);
      // A long run of one byte keeps the hash constant: chunks there may end at maxSize.
      const run = Math.floor(length / 3);
      data.fill(0, run, Math.min(length, run + options.maxSize * 2));
      const lengths = cutsInPlace(data, options);
      expect(lengths, `length ${length}`).toEqual(chunkLengths(data, options));
      if (length >= options.maxSize * 4) expect(lengths).toContain(options.maxSize);
    }
  });

  it('cuts where the full 32-bit hash would, whatever the width of the mask', () => {
    // cutPoint keeps only the mask's bits of the hash; the streaming chunker keeps all 32.
    const data = pseudoRandom(120_000, 23);
    for (const bits of [1, 4, 9, 12, 31, 32]) {
      const widths: ChunkingOptions = { minSize: 64, averageSize: 64 + 2 ** bits, maxSize: 20_000 };
      const lengths = cutsInPlace(data, widths);
      expect(lengths, `${bits} bits`).toEqual(chunkLengths(data, widths));
      if (bits <= 12) expect(lengths.length, `${bits} bits`).toBeGreaterThan(5);
    }
  });

  it('returns no chunk for an empty stream and one for a short one', () => {
    expect(chunkLengths(Buffer.alloc(0), options)).toEqual([]);
    expect(chunkLengths(Buffer.alloc(500, 1), options)).toEqual([500]);
  });
});
