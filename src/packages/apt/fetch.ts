import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { UcvmError } from '../../errors.js';

/** Transfer counters, shared by everything one apt source downloads. */
export interface TransferStats {
  /** Bytes received over the network (or read from `file:` URIs). */
  downloadedBytes: number;
  /** Files downloaded, including InRelease. */
  downloads: number;
  /** Files reused from the cache instead of downloaded. */
  cacheHits: number;
}

export function newTransferStats(): TransferStats {
  return { downloadedBytes: 0, downloads: 0, cacheHits: 0 };
}

/** Joins an archive root and a relative path into a URL. */
export function joinUrl(base: string, relative: string): string {
  return `${base.replace(/\/+$/, '')}/${relative.replace(/^\/+/, '')}`;
}

function httpError(url: string, reason: string, cause?: unknown): UcvmError {
  return new UcvmError('HTTP_FAILED', `GET ${url}: ${reason}`, {
    details:
      'Check the apt source URI and the network; a retry may help if the mirror was being updated.',
    cause,
  });
}

/** Opens a URL as a byte stream; `undefined` if it does not exist (HTTP 404/410, ENOENT). */
async function openUrl(url: string): Promise<AsyncIterable<Buffer> | undefined> {
  const parsed = new URL(url);
  if (parsed.protocol === 'file:') {
    const file = fileURLToPath(parsed);
    try {
      const handle = await open(file, 'r');
      return handle.createReadStream();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw httpError(url, (error as Error).message, error);
    }
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw httpError(url, `unsupported URI scheme "${parsed.protocol}"`);
  }
  let response: Response;
  try {
    // identity: hashes in Release are over the bytes as stored, not a re-encoding.
    response = await fetch(url, { headers: { 'accept-encoding': 'identity' }, redirect: 'follow' });
  } catch (error) {
    throw httpError(url, (error as Error).message, error);
  }
  if (response.status === 404 || response.status === 410) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw httpError(url, `HTTP ${response.status} ${response.statusText}`);
  }
  return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
}

/** Downloads a small file into memory; `undefined` if it does not exist. */
export async function fetchOptional(
  url: string,
  stats: TransferStats,
): Promise<Buffer | undefined> {
  const stream = await openUrl(url);
  if (stream === undefined) return undefined;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  } catch (error) {
    throw httpError(url, (error as Error).message, error);
  }
  const data = Buffer.concat(chunks);
  stats.downloads += 1;
  stats.downloadedBytes += data.length;
  return data;
}

/** What a downloaded file must be; `describe` builds the error for a mismatch. */
export interface ExpectedFile {
  size: number;
  sha256: string;
  describe: (problem: string) => UcvmError;
}

export function verifyError(what: string, problem: string, hint: string): UcvmError {
  return new UcvmError('PACKAGE_VERIFY', `${what}: ${problem}`, { details: hint });
}

/** A temp path next to `target`, so that the final rename stays on one file system. */
export function tempPathFor(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
}

/**
 * Downloads `url` to `target` atomically, checking size and SHA256 while streaming.
 * Returns false if the URL does not exist. Never leaves a partial or unverified file at `target`.
 */
export async function downloadVerified(
  url: string,
  target: string,
  expected: ExpectedFile,
  stats: TransferStats,
): Promise<boolean> {
  const stream = await openUrl(url);
  if (stream === undefined) return false;
  await mkdir(path.dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  const hash = createHash('sha256');
  let size = 0;
  const handle = await open(temp, 'w');
  try {
    try {
      for await (const chunk of stream) {
        const bytes = Buffer.from(chunk);
        size += bytes.length;
        // Stop early rather than fill the disk with an endless or wrong response.
        if (size > expected.size) break;
        hash.update(bytes);
        await handle.write(bytes);
      }
    } catch (error) {
      throw httpError(url, (error as Error).message, error);
    }
    await handle.sync();
    await handle.close();
    stats.downloads += 1;
    stats.downloadedBytes += size;
    if (size !== expected.size) {
      throw expected.describe(
        `size ${size > expected.size ? `over ${expected.size}` : size}, expected ${expected.size}`,
      );
    }
    const actual = hash.digest('hex');
    if (actual !== expected.sha256.toLowerCase()) {
      throw expected.describe(`SHA256 ${actual}, expected ${expected.sha256}`);
    }
    await rename(temp, target);
    return true;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
}

/** SHA256 of a local file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes `data` to `target` via a temp file and rename. */
export async function writeAtomic(target: string, data: Buffer | string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Reads a file, or `undefined` if it does not exist. */
export async function readOptional(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
