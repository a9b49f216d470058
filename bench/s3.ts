/**
 * Publishing into an S3-compatible bucket beside publishing into a directory, in one run, on
 * the same generated tree (`node dist/bench/s3.js [--quick]`): a full publish into a fresh
 * repository, then a republish after rewriting 1% of the files; wall time of each, the ratio
 * bucket / directory, and the requests each bucket publish made, by method. The store is s3rver
 * on 127.0.0.1 (a real S3 protocol server writing to this machine's disk), so the ratios show
 * ucvm's cost of talking S3 (requests, round trips, no hard links), not a network's.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { createEmbeddedPublisher } from '../src/publisher/embedded/index.js';
import { startS3Server, type S3TestServer } from '../test/helpers/s3-server.js';
import { describeMachine } from './machine.js';
import { say, since } from './shell.js';
import { changeFiles, FULL_SHAPE, generateTree, QUICK_SHAPE } from './trees.js';

const FQRN = 'bench.example.org';
const RESULTS = resolve(import.meta.dirname, '../../bench/results');

interface Run {
  seconds: number;
  files: number;
  bytes: number;
  objectsWritten: number;
  requests?: Record<string, number>;
}

function open(base: string, target: 'directory' | 'bucket', s3: S3TestServer) {
  return createEmbeddedPublisher(
    target === 'directory'
      ? {
          storage: join(base, 'srv', FQRN),
          keysDir: join(base, 'keys'),
          spoolDir: join(base, 'spool-dir'),
        }
      : {
          storage: `s3://bench/${FQRN}`,
          s3: s3.connection(),
          keysDir: join(base, 'keys'),
          spoolDir: join(base, 'spool-s3'),
        },
  );
}

async function timed(
  base: string,
  target: 'directory' | 'bucket',
  s3: S3TestServer,
  tree: string,
  tag: string,
): Promise<Run> {
  const from = s3.requests.length;
  const started = process.hrtime.bigint();
  const result = await open(base, target, s3).publish({ tree, tag });
  const seconds = since(started);
  const run: Run = {
    seconds: Math.round(seconds * 100) / 100,
    files: result.stats.files,
    bytes: result.stats.bytes,
    objectsWritten: result.stats.objectsWritten,
  };
  if (target === 'bucket') {
    const requests: Record<string, number> = {};
    for (const request of s3.requests.slice(from)) {
      const kind = `${request.method} ${request.status}`;
      requests[kind] = (requests[kind] ?? 0) + 1;
    }
    run.requests = requests;
  }
  return run;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const startedAt = new Date();
  const base = await mkdtemp(join(os.tmpdir(), 'ucvm-bench-s3-'));
  const s3 = await startS3Server();
  try {
    await s3.createBucket('bench');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    say(`generating the ${quick ? 'quick' : 'full'} tree`);
    const tree = await generateTree(join(base, 'tree'), quick ? QUICK_SHAPE : FULL_SHAPE);
    await mkdir(join(base, 'srv'), { recursive: true });
    for (const target of ['directory', 'bucket'] as const)
      await open(base, target, s3).init({ whitelistDays: 30 });
    const full: Partial<Record<'directory' | 'bucket', Run>> = {};
    for (const target of ['directory', 'bucket'] as const) {
      say(`full publish into the ${target}`);
      full[target] = await timed(base, target, s3, tree.root, 'full');
    }
    const change = await changeFiles(tree, 0.01);
    const changed: Partial<Record<'directory' | 'bucket', Run>> = {};
    for (const target of ['directory', 'bucket'] as const) {
      say(`republish into the ${target} after rewriting ${change.files} files`);
      changed[target] = await timed(base, target, s3, tree.root, 'changed');
    }
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const report = {
      benchmark: 's3',
      startedAt: startedAt.toISOString(),
      machine: await describeMachine(),
      store: "s3rver on 127.0.0.1 (objects on this machine's disk)",
      tree: { shape: quick ? 'quick' : 'full', files: tree.files.length, change },
      full: { ...full, bucketToDirectory: ratio(full.bucket!.seconds, full.directory!.seconds) },
      changed: {
        ...changed,
        bucketToDirectory: ratio(changed.bucket!.seconds, changed.directory!.seconds),
        bucketChangedToFull: ratio(changed.bucket!.seconds, full.bucket!.seconds),
      },
    };
    const text = `${JSON.stringify(report, null, 2)}\n`;
    await mkdir(RESULTS, { recursive: true });
    const file = join(RESULTS, `s3-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, text);
    process.stdout.write(text);
    say(`wrote ${file}`);
  } finally {
    await s3.close();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
