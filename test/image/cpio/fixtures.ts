import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CpioEntry } from '../../../src/image/cpio/index.js';

export const epoch = 1_600_000_000; // 2020-09-13 12:26:40 UTC

/** Bytes that are not text and not a multiple of 4 long, larger than one read chunk. */
export function patternBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return bytes;
}

export const initScript = Buffer.from('#!/bin/sh\nexec /bin/busybox sh\n');
export const busyboxBytes = patternBytes(200_003, 1);
export const hostBytes = patternBytes(70_001, 2);

/** A small initramfs of every entry type; `hostFile` is written with `hostBytes` first. */
export async function sampleEntries(dir: string): Promise<CpioEntry[]> {
  const hostFile = path.join(dir, 'host-file');
  await writeFile(hostFile, hostBytes, { mode: 0o600 });
  return [
    { type: 'file', path: '/init', mode: 0o755, content: initScript },
    { type: 'file', path: 'usr/bin/busybox', mode: 0o4755, content: busyboxBytes },
    { type: 'hardlink', path: 'usr/bin/sh', target: 'usr/bin/busybox' },
    { type: 'hardlink', path: 'usr/bin/ash', target: '/usr/bin/busybox' },
    { type: 'symlink', path: 'bin', target: 'usr/bin' },
    { type: 'directory', path: 'dev', mode: 0o755 },
    { type: 'char-device', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'char-device', path: 'dev/null', mode: 0o666, major: 1, minor: 3 },
    { type: 'block-device', path: 'dev/vda', mode: 0o660, major: 254, minor: 0, gid: 6 },
    { type: 'file', path: 'etc/ucvm/repository.pub', source: hostFile },
    { type: 'file', path: 'etc/empty', content: Buffer.alloc(0) },
    { type: 'directory', path: 'var/lib/state', mode: 0o700, uid: 1000, gid: 1000 },
    { type: 'file', path: 'etc/motd-ü', content: Buffer.from('grüß\n') },
  ];
}

/** One entry as read back from newc bytes: its name and where its mtime field lies. */
export interface ParsedRecord {
  name: string;
  mtimeOffset: number;
  fields: number[];
}

/** Reads newc headers (independently of the writer) up to and including the trailer. */
export function parseNewc(archive: Buffer): ParsedRecord[] {
  const records: ParsedRecord[] = [];
  let offset = 0;
  const align = (n: number): number => (n + 3) & ~3;
  for (;;) {
    const magic = archive.toString('latin1', offset, offset + 6);
    if (magic !== '070701') throw new Error(`bad magic ${magic} at ${offset}`);
    const fields = Array.from({ length: 13 }, (_, i) =>
      Number.parseInt(archive.toString('latin1', offset + 6 + i * 8, offset + 14 + i * 8), 16),
    );
    const nameSize = fields[11] ?? 0;
    const fileSize = fields[6] ?? 0;
    const name = archive.toString('utf8', offset + 110, offset + 110 + nameSize - 1);
    records.push({ name, mtimeOffset: offset + 6 + 5 * 8, fields });
    offset = align(align(offset + 110 + nameSize) + fileSize);
    if (name === 'TRAILER!!!') break;
  }
  if (offset !== archive.length) throw new Error(`${archive.length - offset} bytes after trailer`);
  return records;
}

/** A digest to compare archives by: vitest's deep equality walks a Buffer byte by byte, slowly. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
