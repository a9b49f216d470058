import { promisify } from 'node:util';
import { createInflate, inflate, inflateSync } from 'node:zlib';

const inflateAsync = promisify(inflate);
import { isUcvmError, UcvmError } from '../errors.js';

function tooLarge(what: string, limit: number): UcvmError {
  return new UcvmError('OBJECT_CORRUPT', `${what} inflates to more than ${limit} bytes`, {
    details:
      'It is larger than its declared size or than the limit for its kind; not read further.',
  });
}

function notZlib(what: string, cause: unknown): UcvmError {
  return new UcvmError('OBJECT_CORRUPT', `${what} is not a zlib stream`, {
    details: String((cause as Error).message ?? cause),
    cause,
  });
}

/** Inflates a whole object, refusing to produce more than `limit` bytes. */
export function inflateBounded(bytes: Uint8Array, limit: number, what: string): Buffer {
  try {
    return inflateSync(bytes, { maxOutputLength: Math.max(1, limit) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(what, limit);
    throw notZlib(what, error);
  }
}

/** Output buffers of inflateBoundedAsync: room for this many times the input, within bounds. */
const EXPECTED_RATIO = 4;
const MIN_CHUNK = 16 << 10;
const MAX_CHUNK = 8 << 20;

/**
 * The same, on the thread pool, so that the caller's thread goes on meanwhile. Each output
 * buffer full is a round trip to the pool, so they are sized for the expected output (zlib's
 * default, 16 KiB, made 200 of them for a catalog of 3 MB).
 */
export async function inflateBoundedAsync(
  bytes: Uint8Array,
  limit: number,
  what: string,
): Promise<Buffer> {
  const chunkSize = Math.max(
    MIN_CHUNK,
    Math.min(bytes.length * EXPECTED_RATIO, limit + 1, MAX_CHUNK),
  );
  try {
    return await inflateAsync(bytes, { maxOutputLength: Math.max(1, limit), chunkSize });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(what, limit);
    throw notZlib(what, error);
  }
}

/** Input is fed in slices this large, so that one write cannot inflate to much more than the limit. */
const SLICE = 16 << 10;

/**
 * Inflates a stream piece by piece, failing as soon as more than `limit` bytes come out. The
 * whole input is consumed even after the zlib stream ends (its consumer may check a hash of it).
 */
export async function* inflateStream(
  input: AsyncIterable<Buffer>,
  limit: number,
  what: string,
): AsyncGenerator<Buffer> {
  const inflater = createInflate();
  const ready: Buffer[] = [];
  let produced = 0;
  let failure: unknown;
  let ended = false;
  inflater.on('data', (piece: Buffer) => {
    produced += piece.length;
    if (produced > limit) {
      failure ??= tooLarge(what, limit);
      inflater.destroy();
      return;
    }
    ready.push(piece);
  });
  inflater.on('error', (error) => (failure ??= error));
  inflater.on('end', () => (ended = true));
  const settle = (): void => {
    if (failure !== undefined) throw isUcvmError(failure) ? failure : notZlib(what, failure);
  };
  // zlib never calls a write's callback once it has failed: an error or close settles it too.
  const write = (slice: Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (failure !== undefined || inflater.destroyed) {
        resolve();
        return;
      }
      const done = (): void => {
        inflater.off('error', done);
        inflater.off('close', done);
        resolve();
      };
      inflater.once('error', done);
      inflater.once('close', done);
      inflater.write(slice, () => done());
    });
  try {
    for await (const chunk of input) {
      for (let at = 0; at < chunk.length && !ended; at += SLICE) {
        await write(chunk.subarray(at, at + SLICE));
        settle();
        while (ready.length > 0) yield ready.shift()!;
      }
    }
    if (!ended && failure === undefined) {
      await new Promise<void>((resolve) => {
        inflater.once('end', resolve);
        inflater.once('close', resolve);
        inflater.end();
      });
    }
    settle();
    while (ready.length > 0) yield ready.shift()!;
  } finally {
    inflater.destroy();
  }
}
