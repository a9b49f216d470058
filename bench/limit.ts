import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startCpuMeter, type CpuShare } from './cpu.js';
import { since } from './shell.js';

/**
 * What this machine can do for the same work as a full publish, with nothing else in the way:
 * every file read, compressed with in-process zlib level 6, and the compressed bytes hashed
 * with SHA-1 (limit-child.ts), on one core and split over every core (one process per core,
 * files dealt largest first to the least loaded share). Warm page cache.
 */
export interface Limit {
  oneCore: LimitRun;
  allCores: LimitRun;
  compressedShare: number;
  method: string;
}

export interface LimitRun {
  processes: number;
  seconds: number;
  cpu: CpuShare;
  /** Wall seconds of the slowest share / of the fastest: how even the split was. */
  imbalance: number;
}

const CHILD = fileURLToPath(new URL('./limit-child.js', import.meta.url));

interface ChildResult {
  files: number;
  bytesIn: number;
  bytesOut: number;
  cpuSeconds: number;
  seconds: number;
}

function runChild(list: string): Promise<ChildResult> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, list], { maxBuffer: 1 << 20 }, (error, stdout) => {
      if (error !== null) reject(new Error(`limit share ${list} failed: ${error.message}`));
      else
        resolve({
          ...(JSON.parse(stdout) as Omit<ChildResult, 'seconds'>),
          seconds: since(started),
        });
    });
  });
}

/** Splits the list into `parts` lists of about equal bytes (largest file first, to the lightest). */
async function split(listFile: string, parts: number): Promise<string[]> {
  const list = await readFile(listFile);
  const paths = list
    .toString()
    .split('\0')
    .filter((path) => path !== '');
  const sized = paths.map((path) => ({ path, size: statSync(path).size }));
  sized.sort((a, b) => b.size - a.size);
  const shares = Array.from({ length: parts }, () => ({ bytes: 0, paths: [] as string[] }));
  for (const file of sized) {
    const lightest = shares.reduce((best, share) => (share.bytes < best.bytes ? share : best));
    lightest.bytes += file.size;
    lightest.paths.push(file.path);
  }
  return Promise.all(
    shares.map(async (share, index) => {
      const name = `${listFile}.share${parts}-${index}`;
      await writeFile(name, share.paths.join('\0'));
      return name;
    }),
  );
}

/** The lists of one share per core (made once per list). */
const shares = new Map<string, Promise<string[]>>();

function sharesOf(listFile: string): Promise<string[]> {
  let made = shares.get(listFile);
  if (made === undefined) {
    made = split(listFile, os.availableParallelism());
    shares.set(listFile, made);
  }
  return made;
}

/** The limit on all cores alone, again (see measureLimit): for a publish timed right after it. */
export async function measureLimitAllCores(listFile: string): Promise<LimitRun> {
  return (await run(await sharesOf(listFile))).run;
}

async function run(lists: string[]): Promise<{ run: LimitRun; results: ChildResult[] }> {
  const meter = startCpuMeter();
  const started = process.hrtime.bigint();
  const results = await Promise.all(lists.map(runChild));
  const seconds = since(started);
  const cpuSeconds = results.reduce((sum, result) => sum + result.cpuSeconds, 0);
  const walls = results.map((result) => result.seconds);
  return {
    run: {
      processes: lists.length,
      seconds,
      cpu: meter.stop(seconds, cpuSeconds),
      imbalance: Math.max(...walls) / Math.min(...walls),
    },
    results,
  };
}

export async function measureLimit(listFile: string): Promise<Limit> {
  const one = await run([listFile]);
  const all = await run(await sharesOf(listFile));
  const first = one.results[0]!;
  return {
    oneCore: one.run,
    allCores: all.run,
    compressedShare: first.bytesOut / first.bytesIn,
    method:
      'node (C zlib) per file: readFileSync, deflateSync level 6, SHA-1 of the compressed bytes; one process, then one process per core with the files dealt largest first to the lightest share',
  };
}
