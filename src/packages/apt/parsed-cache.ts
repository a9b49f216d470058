import { createHash } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pruneUnused } from './cache.js';
import { readOptional, writeAtomic } from './fetch.js';
import type { PackageTable } from './package-table.js';

/** Bumped whenever the layout or the meaning of a stored table changes. */
export const parsedIndexFormat = 1;

const magic = 'ucvm-packages-table';
const digestBytes = 32;

/** The columns stored as JSON (the field ids and the text follow as raw bytes), with the index. */
type StoredMeta = Omit<PackageTable, 'text' | 'fieldIds'> & { index: string };

/**
 * Encodes a table parsed from the index file with SHA256 `index`:
 * `ucvm-packages-table <format> <json bytes> <field id bytes> <text bytes>\n`, the columns as
 * JSON, the field ids (16-bit little-endian), the uncompressed Packages bytes, then the SHA256
 * of everything before it (to detect corruption).
 */
export function encodeParsedIndex(table: PackageTable, index: string): Buffer {
  const meta: StoredMeta = {
    index,
    skipped: table.skipped,
    spans: table.spans,
    fieldNames: table.fieldNames,
    fieldStarts: table.fieldStarts,
    names: table.names,
    versions: table.versions,
    architectures: table.architectures,
    filenames: table.filenames,
    sizes: table.sizes,
    sha256s: table.sha256s,
    unicode: table.unicode,
  };
  const json = Buffer.from(JSON.stringify(meta));
  const ids = Buffer.alloc(table.fieldIds.length * 2);
  table.fieldIds.forEach((id, k) => ids.writeUInt16LE(id, 2 * k));
  const header = Buffer.from(
    `${magic} ${parsedIndexFormat} ${json.length} ${ids.length} ${table.text.length}\n`,
    'latin1',
  );
  const body = Buffer.concat([header, json, ids, table.text]);
  const digest = createHash('sha256').update(body).digest();
  return Buffer.concat([body, digest]);
}

function readIds(bytes: Buffer): Uint16Array {
  const ids = new Uint16Array(bytes.length / 2);
  if (os.endianness() === 'LE') new Uint8Array(ids.buffer).set(bytes);
  else for (let k = 0; k < ids.length; k++) ids[k] = bytes.readUInt16LE(2 * k);
  return ids;
}

function isStrings(value: unknown, length: number): value is string[] {
  return (
    Array.isArray(value) &&
    value.length === length &&
    value.every((item) => typeof item === 'string')
  );
}

function isIntegers(value: unknown, length: number, min: number, max: number): value is number[] {
  return (
    Array.isArray(value) &&
    value.length === length &&
    value.every((item) => Number.isSafeInteger(item) && item >= min && item <= max)
  );
}

/** Why stored bytes are not a table for index `index`, or the table. */
export function decodeParsedIndex(data: Buffer, index: string): PackageTable | string {
  const newline = data.subarray(0, 200).indexOf(10);
  if (newline < 0) return 'no header';
  const header = data.toString('latin1', 0, newline).split(' ');
  if (header.length !== 5 || header[0] !== magic) return 'not a parsed index';
  if (header[1] !== String(parsedIndexFormat)) return `format ${header[1]}`;
  const [jsonLength, idsLength, textLength] = header.slice(2).map(Number) as [
    number,
    number,
    number,
  ];
  const jsonStart = newline + 1;
  const idsStart = jsonStart + jsonLength;
  const textStart = idsStart + idsLength;
  const bodyLength = textStart + textLength;
  if (
    ![jsonLength, idsLength, textLength].every((n) => Number.isSafeInteger(n) && n >= 0) ||
    idsLength % 2 !== 0 ||
    data.length !== bodyLength + digestBytes
  )
    return 'truncated or overlong';
  const digest = createHash('sha256').update(data.subarray(0, bodyLength)).digest();
  if (!digest.equals(data.subarray(bodyLength))) return 'checksum mismatch';
  let meta: Partial<StoredMeta>;
  try {
    meta = JSON.parse(data.toString('utf8', jsonStart, idsStart)) as Partial<StoredMeta>;
  } catch {
    return 'bad JSON';
  }
  if (meta.index !== index) return `made from index ${String(meta.index)}`;
  const count = Array.isArray(meta.names) ? meta.names.length : -1;
  const fieldIds = readIds(data.subarray(idsStart, textStart));
  const fieldNames = meta.fieldNames;
  if (
    !Number.isSafeInteger(meta.skipped) ||
    !isStrings(meta.names, count) ||
    !isStrings(meta.versions, count) ||
    !isStrings(meta.architectures, count) ||
    !isStrings(meta.filenames, count) ||
    !isStrings(meta.sha256s, count) ||
    !isStrings(fieldNames, fieldNames?.length ?? -1) ||
    !isIntegers(meta.sizes, count, 0, Number.MAX_SAFE_INTEGER) ||
    !isIntegers(meta.spans, 2 * count, 0, textLength) ||
    !isIntegers(meta.fieldStarts, count + 1, 0, fieldIds.length) ||
    !isIntegers(meta.unicode, meta.unicode?.length ?? -1, 0, count - 1) ||
    fieldIds.some((id) => id >= fieldNames.length)
  )
    return 'bad columns';
  for (let i = 0; i < count; i++) {
    if ((meta.spans[2 * i] as number) > (meta.spans[2 * i + 1] as number)) return 'bad spans';
    if ((meta.fieldStarts[i] as number) > (meta.fieldStarts[i + 1] as number))
      return 'bad field starts';
  }
  return {
    text: data.subarray(textStart, bodyLength),
    spans: meta.spans,
    fieldNames,
    fieldIds,
    fieldStarts: meta.fieldStarts,
    names: meta.names,
    versions: meta.versions,
    architectures: meta.architectures,
    filenames: meta.filenames,
    sizes: meta.sizes,
    sha256s: meta.sha256s,
    unicode: meta.unicode,
    skipped: meta.skipped as number,
  };
}

/**
 * Reads back the table stored for index `index`; undefined if there is none, and (with a reason
 * for `onInvalid`) if the file is unreadable, corrupt, from another format, or for another index.
 * Never throws: this is only a cache.
 */
export async function readParsedIndex(
  file: string,
  index: string,
  onInvalid: (reason: string) => void,
): Promise<PackageTable | undefined> {
  let table: PackageTable | string;
  try {
    const data = await readOptional(file);
    if (data === undefined) return undefined;
    table = decodeParsedIndex(data, index);
  } catch (error) {
    table = `unreadable: ${(error as Error).message}`;
  }
  if (typeof table !== 'string') {
    // The mtime says when a table was last used (see pruneUnused).
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
    return table;
  }
  onInvalid(table);
  return undefined;
}

/** Stores a table atomically (temp file and rename), then prunes tables no longer used. */
export async function writeParsedIndex(
  file: string,
  table: PackageTable,
  index: string,
): Promise<void> {
  await writeAtomic(file, encodeParsedIndex(table, index));
  // Tables of another format are of no use; the rest go when unused for a month.
  await pruneUnused(
    path.dirname(file),
    file,
    /^[0-9a-f]{64}\.v\d+$/,
    (name) => !name.endsWith(`.v${parsedIndexFormat}`),
  );
}
