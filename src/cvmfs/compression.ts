import { constants, deflate, deflateRaw, deflateSync, inflate, inflateSync } from 'node:zlib';
import { promisify } from 'node:util';
import pako from 'pako';

const deflateAsync = promisify(deflate);
const deflateRawAsync = promisify(deflateRaw);
const inflateAsync = promisify(inflate);

/** zlib (RFC 1950) at the default level, as the real server writes objects. */
export function compress(bytes: Uint8Array): Buffer {
  return deflateSync(bytes);
}

/**
 * Room for deflate's output of `length` bytes in one buffer: zlib's deflateBound, and some. Each
 * output buffer full is a round trip to the thread pool (zlib's default, 16 KiB, made dozens).
 */
function outputRoom(length: number): number {
  return Math.max(64, length + (length >> 10) + 1024);
}

/** The same, on the libuv thread pool, so that several files compress on several cores. */
export function compressAsync(bytes: Uint8Array): Promise<Buffer> {
  return deflateAsync(bytes, { chunkSize: outputRoom(bytes.length) });
}

/** Parts of this size are compressed side by side (see compressParallel). */
export const PARALLEL_PART = 1 << 20;
/** deflate's window: each part starts with the 32 KiB before it as its dictionary. */
const WINDOW = 32 * 1024;
/** zlib's header for the default level and a 32 KiB window (RFC 1950: CMF 0x78, FLG 0x9c). */
const ZLIB_HEADER = Buffer.from([0x78, 0x9c]);

/**
 * RFC 1950's Adler-32 checksum of `bytes`, computed by zlib on the thread pool: a stored zlib
 * stream (level 0, a copy) ends with it. In JavaScript, a catalog of 3 MB took 10 to 30 ms of
 * the main thread, while the parts were being deflated.
 */
export async function adler32(bytes: Uint8Array): Promise<number> {
  const stored = await deflateAsync(bytes, { level: 0, chunkSize: outputRoom(bytes.length) });
  return stored.readUInt32BE(stored.length - 4);
}

/**
 * zlib at the default level, as `compress`, but with parts of PARALLEL_PART bytes deflated at
 * once on the thread pool, the way pigz does it: each part primed with the 32 KiB before it
 * and ended by a sync flush (the last one by the final block), then joined under one zlib
 * header and the Adler-32 of the whole. One valid zlib stream, that any inflater reads as
 * the input; the parts depend only on the input, so the bytes do too. Input of one part is
 * compressed as `compress` does it.
 */
export async function compressParallel(bytes: Buffer): Promise<Buffer> {
  if (bytes.length <= PARALLEL_PART) return compressAsync(bytes);
  const parts: Array<Promise<Buffer>> = [];
  for (let start = 0; start < bytes.length; start += PARALLEL_PART) {
    const end = Math.min(start + PARALLEL_PART, bytes.length);
    parts.push(
      deflateRawAsync(bytes.subarray(start, end), {
        level: 6,
        chunkSize: outputRoom(end - start),
        ...(start > 0 && { dictionary: bytes.subarray(Math.max(0, start - WINDOW), start) }),
        finishFlush: end === bytes.length ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      }),
    );
  }
  const checksum = adler32(bytes);
  const deflated = await Promise.all(parts);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(await checksum);
  return Buffer.concat([ZLIB_HEADER, ...deflated, trailer]);
}

export function decompress(bytes: Uint8Array): Buffer {
  return inflateSync(bytes);
}

export function decompressAsync(bytes: Uint8Array): Promise<Buffer> {
  return inflateAsync(bytes);
}

/** Stock `compress2(..., Z_DEFAULT_COMPRESSION)`: deflateInit's defaults. */
const STOCK_DEFAULTS = { level: 6, windowBits: 15, memLevel: 8, strategy: 0 } as const;

/**
 * zlib at the default level (6, window 15, memory level 8, default strategy), byte for byte as
 * stock zlib writes it. Node's zlib is Chromium's fork, whose deflate output differs; that is
 * fine for objects copied as they are, but a stratum 1 (`cvmfs_server snapshot`) stores the
 * certificate and the meta-info re-compressed with stock zlib under the manifest's hash, so
 * those must already be stock zlib's bytes. pako is a port of stock zlib (checked byte for byte
 * against Python's zlib in test/cvmfs/stock-zlib.test.ts). The options are spelled out so
 * that a change of pako's defaults cannot change the bytes.
 */
export function compressStock(bytes: Uint8Array): Buffer {
  const out = pako.deflate(bytes, STOCK_DEFAULTS);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
