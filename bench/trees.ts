import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPool, type Pool } from './pool.js';
import { createRng, type Rng } from './prng.js';

const MiB = 1024 * 1024;
const SEED = 20_240_601;
const CHANGE_SEED = 77;

/** How many files of which sizes; the full shape is about 20,000 files and 300 MB. */
export interface TreeShape {
  directories: number;
  maxDepth: number;
  /** Groups of files with log-uniform sizes in [min, max]. */
  groups: ReadonlyArray<{ count: number; min: number; max: number }>;
  /** Files with these exact sizes (large enough to be chunked). */
  large: readonly number[];
  /** Fraction of files that get a symlink next to them. */
  symlinkShare: number;
  poolBytes: number;
}

export const FULL_SHAPE: TreeShape = {
  directories: 320,
  maxDepth: 6,
  groups: [
    { count: 18_000, min: 100, max: 10 * 1024 },
    { count: 1_700, min: 10 * 1024, max: 100 * 1024 },
    { count: 200, min: 100 * 1024, max: 2 * MiB },
  ],
  large: [6 * MiB, 9 * MiB, 14 * MiB, 38 * MiB],
  symlinkShare: 0.01,
  poolBytes: 48 * MiB,
};

export const QUICK_SHAPE: TreeShape = {
  directories: 40,
  maxDepth: 6,
  groups: [
    { count: 1_800, min: 100, max: 10 * 1024 },
    { count: 170, min: 10 * 1024, max: 100 * 1024 },
    { count: 20, min: 100 * 1024, max: 2 * MiB },
  ],
  large: [6 * MiB, 9 * MiB],
  symlinkShare: 0.01,
  poolBytes: 16 * MiB,
};

const DIR_WORDS = [
  'lib',
  'share',
  'bin',
  'include',
  'etc',
  'doc',
  'modules',
  'plugins',
  'python3',
  'site-packages',
  'locale',
  'man',
  'x86_64-linux-gnu',
  'perl5',
  'firmware',
  'gconv',
  'dri',
  'cmake',
  'pkgconfig',
  'icons',
  'data',
  'tests',
  'examples',
  'kernel',
  'drivers',
  'net',
  'fs',
  'security',
];
const EXTENSIONS = [
  'so',
  'py',
  'pyc',
  'h',
  'txt',
  'json',
  'xml',
  'conf',
  'html',
  'js',
  'mo',
  'pm',
  'a',
  'cmake',
  'pc',
  'svg',
  '',
];

export interface GeneratedFile {
  relative: string;
  size: number;
}

export interface GeneratedTree {
  root: string;
  files: GeneratedFile[];
  symlinks: number;
  directories: number;
  pool: Pool['sources'];
  seconds: number;
}

/** Builds file content: slices of the pool (real bytes) with ~10% random blocks in between. */
function content(rng: Rng, pool: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  let filled = 0;
  while (filled < size) {
    const want = size - filled;
    let part: Buffer;
    if (rng.next() < 0.1) {
      part = rng.bytes(Math.min(want, rng.logInt(256, 16 * 1024)));
    } else {
      const length = Math.min(want, rng.logInt(256, 64 * 1024), pool.length);
      const start = rng.int(0, pool.length - length);
      part = pool.subarray(start, start + length);
    }
    parts.push(part);
    filled += part.length;
  }
  return Buffer.concat(parts, size);
}

function makeDirectories(rng: Rng, shape: TreeShape): string[] {
  const dirs: Array<{ path: string; depth: number }> = [{ path: '', depth: 0 }];
  for (let i = 0; i < shape.directories; i++) {
    // Prefer shallow parents: pick twice, keep the shallower one.
    const a = rng.pick(dirs);
    const b = rng.pick(dirs);
    const parent = a.depth <= b.depth ? a : b;
    if (parent.depth >= shape.maxDepth) continue;
    dirs.push({ path: `${parent.path}/${rng.pick(DIR_WORDS)}-${i}`, depth: parent.depth + 1 });
  }
  return dirs.map((dir) => dir.path);
}

function fileSizes(rng: Rng, shape: TreeShape): number[] {
  const sizes: number[] = [];
  for (const group of shape.groups)
    for (let i = 0; i < group.count; i++) sizes.push(rng.logInt(group.min, group.max));
  sizes.push(...shape.large);
  // Interleave the large files among the others (deterministic shuffle).
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  return sizes;
}

/** Writes the deterministic tree under `root` (which must not exist). */
export async function generateTree(root: string, shape: TreeShape): Promise<GeneratedTree> {
  const started = Date.now();
  const rng = createRng(SEED);
  const pool = await buildPool(createRng(SEED + 1), shape.poolBytes);
  const dirs = makeDirectories(rng, shape);
  for (const dir of dirs) await mkdir(join(root, dir), { recursive: true });
  const files: GeneratedFile[] = fileSizes(rng, shape).map((size, i) => {
    const ext = rng.pick(EXTENSIONS);
    return {
      relative: `${rng.pick(dirs)}/f${String(i).padStart(5, '0')}${ext === '' ? '' : `.${ext}`}`,
      size,
    };
  });
  const links = files.filter(() => rng.next() < shape.symlinkShare);
  const contentRng = createRng(SEED + 2);
  // Content is drawn in file order (deterministic); only the writes overlap, a few at a time.
  const writing = new Set<Promise<void>>();
  for (const file of files) {
    const data = content(contentRng, pool.bytes, file.size);
    const write: Promise<void> = writeFile(join(root, file.relative), data).then(
      () => void writing.delete(write),
    );
    writing.add(write);
    if (writing.size >= 8) await Promise.race(writing);
  }
  await Promise.all(writing);
  for (const file of links) {
    const name = file.relative.slice(file.relative.lastIndexOf('/') + 1);
    await symlink(name, join(root, `${file.relative}.link`));
  }
  return {
    root,
    files,
    symlinks: links.length,
    directories: dirs.length,
    pool: pool.sources,
    seconds: (Date.now() - started) / 1000,
  };
}

export interface Change {
  files: number;
  /** Bytes of the files before and after the change. */
  bytesBefore: number;
  bytesAfter: number;
  largest: number;
}

/**
 * Rewrites `share` of the files (chosen deterministically) with new content of a similar size;
 * each `round` chooses other files and other content.
 */
export async function changeFiles(tree: GeneratedTree, share: number, round = 0): Promise<Change> {
  const rng = createRng(CHANGE_SEED + 2 * round);
  const pool = await buildPool(createRng(CHANGE_SEED + 2 * round + 1), 8 * MiB);
  const count = Math.max(1, Math.round(tree.files.length * share));
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(rng.int(0, tree.files.length - 1));
  const change: Change = { files: count, bytesBefore: 0, bytesAfter: 0, largest: 0 };
  for (const index of [...chosen].sort((a, b) => a - b)) {
    const file = tree.files[index]!;
    const size = Math.max(1, Math.round(file.size * (0.9 + 0.2 * rng.next())));
    await writeFile(join(tree.root, file.relative), content(rng, pool.bytes, size));
    change.bytesBefore += file.size;
    change.bytesAfter += size;
    change.largest = Math.max(change.largest, size);
    file.size = size;
  }
  return change;
}
