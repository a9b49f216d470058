import { deflate, deflateSync, inflate, inflateSync } from 'node:zlib';
import { promisify } from 'node:util';
import pako from 'pako';

const deflateAsync = promisify(deflate);
const inflateAsync = promisify(inflate);

/** zlib (RFC 1950) at the default level, as the real server writes objects. */
export function compress(bytes: Uint8Array): Buffer {
  return deflateSync(bytes);
}

/** The same, on the libuv thread pool, so that several files compress on several cores. */
export function compressAsync(bytes: Uint8Array): Promise<Buffer> {
  return deflateAsync(bytes);
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
