/**
 * Content-defined chunking of large files. The client does not care where chunks are cut;
 * cutting by content (a gear rolling hash) keeps unchanged regions of a changed file on the
 * same chunk objects, so a republish costs only the chunks that changed.
 */
export interface ChunkingOptions {
  minSize: number;
  averageSize: number;
  maxSize: number;
}

/** The real server's defaults (`cvmfs_server_coda.sh`): 4, 8 and 16 MiB. */
export const DEFAULT_CHUNKING: ChunkingOptions = {
  minSize: 4 * 1024 * 1024,
  averageSize: 8 * 1024 * 1024,
  maxSize: 16 * 1024 * 1024,
};

const gear = new Uint32Array(256);
{
  // A fixed table: boundaries must not change between runs or versions.
  let state = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    gear[i] = state >>> 0;
  }
}

function maskFor(options: ChunkingOptions): number {
  const distance = Math.max(1, options.averageSize - options.minSize);
  const bits = Math.max(1, Math.round(Math.log2(distance)));
  return (2 ** bits - 1) >>> 0;
}

/**
 * Returns the length of the next chunk at the start of `data`, or undefined if `data` is too
 * short to decide and more input may follow.
 */
export function nextChunkLength(
  data: Uint8Array,
  options: ChunkingOptions,
  final: boolean,
): number | undefined {
  if (data.length <= options.minSize) return final ? data.length : undefined;
  const limit = Math.min(data.length, options.maxSize);
  const mask = maskFor(options);
  let hash = 0;
  for (let i = Math.max(0, options.minSize - 32); i < limit; i++) {
    hash = ((hash << 1) + gear[data[i]!]!) >>> 0;
    if (i >= options.minSize && (hash & mask) === 0) return i + 1;
  }
  if (limit === options.maxSize) return options.maxSize;
  return final ? data.length : undefined;
}

/** Splits a stream of pieces into chunks; every chunk but the last is at least `minSize`. */
export async function* chunkStream(
  pieces: AsyncIterable<Uint8Array>,
  options: ChunkingOptions,
): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const piece of pieces) {
    pending = pending.length === 0 ? Buffer.from(piece) : Buffer.concat([pending, piece]);
    for (;;) {
      const length = nextChunkLength(pending, options, false);
      if (length === undefined) break;
      yield pending.subarray(0, length);
      pending = pending.subarray(length);
    }
  }
  while (pending.length > 0) {
    const length = nextChunkLength(pending, options, true)!;
    yield pending.subarray(0, length);
    pending = pending.subarray(length);
  }
}
