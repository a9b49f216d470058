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

/**
 * zlib at the default level (6, window 15, memory level 8, default strategy), byte for byte as
 * stock zlib writes it. Node's zlib is Chromium's fork, whose deflate output differs; that is
 * fine for objects copied as they are, but a stratum 1 (`cvmfs_server snapshot`) stores the
 * certificate and the meta-info re-compressed with stock zlib under the manifest's hash, so
 * those must already be stock zlib's bytes. pako is a port of stock zlib.
 */
export function compressStock(bytes: Uint8Array): Buffer {
  const out = pako.deflate(bytes, { level: 6 });
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
