import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, Progress } from '../src/log.js';
import {
  createEmbeddedPublisher,
  type EmbeddedPublisher,
} from '../src/publisher/embedded/index.js';
import type { PublishStats } from '../src/publisher/publisher.js';
import { startCpuMeter, type CpuShare } from './cpu.js';
import { since } from './shell.js';
import { failOnStall } from './stall.js';

export const FQRN = 'bench.example.org';

export interface BenchRepo {
  storage: string;
  spool: string;
  publisher: EmbeddedPublisher;
}

/** A fresh, initialized repository with its own keys and spool (state cache) under `base`. */
export async function makeRepo(base: string): Promise<BenchRepo> {
  const storage = join(base, 'srv', FQRN);
  const spool = join(base, 'spool');
  await mkdir(join(base, 'srv'), { recursive: true });
  const publisher = createEmbeddedPublisher({
    storage,
    keysDir: join(base, 'keys'),
    spoolDir: spool,
  });
  await publisher.init({ whitelistDays: 30 });
  return { storage, spool, publisher };
}

/** Where the time of one publish went, from the publisher's own log and progress calls. */
export interface Phases {
  /** Lock, open the repository, keys, whitelist, history. */
  setup: number;
  /** Scan (lstat of every entry, getfattr), partition, state cache load. */
  scan: number;
  /** Hash, compress and store the file contents. */
  content: number;
  /** Catalogs, history, sync, signed manifest, state cache commit. */
  catalogs: number;
}

export interface Timing {
  seconds: number;
  mbPerSecond: number;
  filesPerSecond: number;
  phases: Phases;
  cpu: CpuShare;
  stats: PublishStats;
  revision: number;
}

function phaseRecorder(): { logger: Logger; progress: Progress; marks: Map<string, bigint> } {
  const marks = new Map<string, bigint>();
  const mark = (name: string): void =>
    void (marks.has(name) || marks.set(name, process.hrtime.bigint()));
  const logger: Logger = {
    debug() {},
    info(message) {
      if (message === 'scanning tree') mark('scan');
    },
    warn() {},
    error() {},
  };
  const progress: Progress = {
    start: () => mark('content'),
    advance() {},
    stop: () => mark('catalogs'),
  };
  return { logger, progress, marks };
}

/** Publishes `tree` once and times it (wall time around the call). */
export async function timePublish(repo: BenchRepo, tree: string, tag: string): Promise<Timing> {
  const recorder = phaseRecorder();
  // A publisher per run, so that the phase recorder sees this run's log lines.
  const publisher = createEmbeddedPublisher({
    storage: repo.storage,
    keysDir: repo.publisher.keysDir,
    spoolDir: repo.spool,
    logger: recorder.logger,
  });
  const meter = startCpuMeter();
  const started = process.hrtime.bigint();
  const result = await failOnStall(
    publisher.publish({ tree, tag }, recorder.progress),
    `publishing ${tree} (tag ${tag})`,
  );
  const seconds = since(started);
  const cpu = meter.stop(seconds);
  const at = (name: string, fallback: bigint): bigint => recorder.marks.get(name) ?? fallback;
  const ended = process.hrtime.bigint();
  const scan = at('scan', started);
  const content = at('content', scan);
  const catalogs = at('catalogs', content);
  const span = (from: bigint, to: bigint): number => Number(to - from) / 1e9;
  return {
    seconds,
    mbPerSecond: result.stats.bytes / 1e6 / seconds,
    filesPerSecond: result.stats.files / seconds,
    phases: {
      setup: span(started, scan),
      scan: span(scan, content),
      content: span(content, catalogs),
      catalogs: span(catalogs, ended),
    },
    cpu,
    stats: result.stats,
    revision: result.revision,
  };
}
