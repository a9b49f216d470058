import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rng } from './prng.js';

/** Where real bytes come from (binaries and text of this machine), and how much of each. */
const SOURCES: ReadonlyArray<{ root: string; share: number; accept: RegExp }> = [
  { root: '/usr/lib/x86_64-linux-gnu', share: 0.45, accept: /\.so(\.[0-9.]+)?$|\.a$/ },
  { root: '/usr/lib/python3', share: 0.2, accept: /\.py$/ },
  {
    root: '/usr/share',
    share: 0.35,
    accept: /\.(txt|html|xml|json|js|css|py|pl|pm|h|c|conf|rules|svg|po|desc|sh|md)$|^[A-Z]+$/,
  },
];
const MAX_PER_FILE = 512 * 1024;
const MAX_LISTED = 20_000;

async function listFiles(root: string, accept: RegExp): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (found.length >= MAX_LISTED) return;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && accept.test(entry.name)) found.push(path);
    }
  }
  await walk(root);
  return found;
}

async function readHead(path: string, max: number): Promise<Buffer> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (handle === undefined) return Buffer.alloc(0);
  try {
    const buffer = Buffer.alloc(max);
    const { bytesRead } = await handle.read(buffer, 0, max, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Synthetic text for machines without the sources (keeps the tree compressible). */
function syntheticText(rng: Rng, length: number): Buffer {
  const words = [
    'the',
    'file',
    'module',
    'return',
    'value',
    'config',
    'error',
    'static',
    'void',
    'int',
    'char',
    'const',
    'import',
    'from',
    'class',
    'def',
    'self',
    'data',
    'path',
    'name',
    'type',
    'size',
    'list',
    'string',
    'buffer',
    'stream',
    'version',
  ];
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const line =
      Array.from({ length: rng.int(2, 12) }, () => rng.pick(words)).join(' ') +
      (rng.next() < 0.3 ? ` = ${rng.int(0, 99999)};\n` : '\n');
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, length);
}

export interface Pool {
  bytes: Buffer;
  /** Which files the pool came from (counts per source root). */
  sources: Record<string, { files: number; bytes: number }>;
}

/**
 * A pool of real bytes (shared libraries, Python, text) read deterministically from this
 * machine: the generated files are slices of it mixed with random blocks.
 */
export async function buildPool(rng: Rng, size: number): Promise<Pool> {
  const pieces: Buffer[] = [];
  const sources: Pool['sources'] = {};
  let total = 0;
  for (const source of SOURCES) {
    const want = Math.floor(size * source.share);
    const files = await listFiles(source.root, source.accept);
    let got = 0;
    let count = 0;
    for (
      let attempts = 0;
      got < want && files.length > 0 && attempts < files.length * 2;
      attempts++
    ) {
      const data = await readHead(rng.pick(files), Math.min(MAX_PER_FILE, want - got));
      if (data.length === 0) continue;
      pieces.push(data);
      got += data.length;
      count++;
    }
    sources[source.root] = { files: count, bytes: got };
    total += got;
  }
  if (total < size) {
    pieces.push(syntheticText(rng, size - total));
    sources.synthetic = { files: 0, bytes: size - total };
  }
  return { bytes: Buffer.concat(pieces), sources };
}
