import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UcvmError } from '../../errors.js';
import type { CpioEntry, CpioOptions } from './entries.js';
import { encodeHeader, encodeTrailer, padding } from './header.js';
import { planArchive, type RecordBody } from './plan.js';
import { refuseEntry } from './refuse.js';

/** Sizes of the build machine's files the entries name; only regular files are accepted. */
async function measureHostFiles(entries: readonly CpioEntry[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const entry of entries) {
    if (entry.type !== 'file' || !('source' in entry) || sizes.has(entry.source)) continue;
    const found = await stat(entry.source).catch((cause: unknown) => {
      throw refuseEntry(entry.path, `cannot read ${entry.source}`, String(cause));
    });
    if (!found.isFile()) throw refuseEntry(entry.path, `${entry.source} is not a regular file`);
    sizes.set(entry.source, found.size);
  }
  return sizes;
}

async function* hostFileBytes(name: string, source: string, size: number): AsyncGenerator<Buffer> {
  let read = 0;
  for await (const chunk of createReadStream(source)) {
    const bytes = chunk as Buffer;
    read += bytes.length;
    if (read > size) break;
    yield bytes;
  }
  if (read !== size) {
    throw refuseEntry(name, `${source} changed size while the archive was written`);
  }
}

async function* bodyBytes(name: string, body: RecordBody): AsyncGenerator<Buffer> {
  if (body.kind === 'bytes') yield Buffer.from(body.bytes);
  if (body.kind === 'host') yield* hostFileBytes(name, body.source, body.size);
}

/**
 * The archive as a stream of chunks: a newc cpio, the Linux initramfs format. Everything is
 * checked before the first chunk; host files are read one at a time as the stream is consumed.
 */
export async function* cpioChunks(
  entries: readonly CpioEntry[],
  options: CpioOptions,
): AsyncGenerator<Buffer> {
  const records = planArchive(entries, options, await measureHostFiles(entries));
  for (const record of records) {
    yield encodeHeader(record.name, record.fields);
    yield* bodyBytes(record.name, record.body);
    yield padding(record.fields.fileSize);
  }
  yield encodeTrailer();
}

/** The whole archive in memory (small archives, tests). */
export async function buildCpio(
  entries: readonly CpioEntry[],
  options: CpioOptions,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of cpioChunks(entries, options)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Writes the archive to `file` (mode 0644); a failed write leaves no file behind. */
export async function writeCpioFile(
  entries: readonly CpioEntry[],
  file: string,
  options: CpioOptions,
): Promise<void> {
  try {
    await pipeline(
      Readable.from(cpioChunks(entries, options)),
      createWriteStream(file, { mode: 0o644 }),
    );
  } catch (error) {
    await rm(file, { force: true });
    if (error instanceof UcvmError) throw error;
    throw new UcvmError('BUILD_FAILED', `cannot write the initramfs archive ${file}`, {
      details: String(error),
      cause: error,
    });
  }
}
