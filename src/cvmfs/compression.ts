import { deflate, deflateSync, inflate, inflateSync } from 'node:zlib';
import { promisify } from 'node:util';

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
