import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger, Progress } from '../src/log.js';
import {
  createEmbeddedPublisher,
  type EmbeddedPublisher,
} from '../src/publisher/embedded/index.js';
import type { PublishStats } from '../src/publisher/publisher.js';
import { startCpuMeter, type CpuShare } from './cpu.js';
import { since } from './shell.js';
import { failOnStall, StallError } from './stall.js';

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
  /** Lock, open the repository, keys, whitelist, history, state cache load. */
  setup: number;
  /** Scan (lstat of every entry, getfattr), partition; the workers store what it found meanwhile. */
  scan: number;
  /** The rest of hashing, compressing and storing the file contents. */
  content: number;
  /** Catalogs, history, sync, signed manifest, state cache commit. */
  catalogs: number;
}

export interface Timing {
  seconds: number;
  /** Peak resident memory of the publishing process (all its threads), MB. */
  peakRssMb: number;
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

/** What a child process needs to publish into a bench repository. */
export interface PublishJob {
  storage: string;
  keysDir: string;
  spool: string;
  tree: string;
  tag: string;
}

const CHILD = fileURLToPath(new URL('./publish-child.js', import.meta.url));
/** The child's exit status when the publish deadlocked (see stall.ts). */
export const STALLED_EXIT = 3;

/**
 * Publishes `tree` once in a process of its own and times it: wall time around the call, its
 * phases, its CPU, and its peak memory (which an in-process run would mix with the bench's).
 */
export async function timePublish(repo: BenchRepo, tree: string, tag: string): Promise<Timing> {
  const job: PublishJob = {
    storage: repo.storage,
    keysDir: repo.publisher.keysDir,
    spool: repo.spool,
    tree,
    tag,
  };
  const meter = startCpuMeter();
  const timing = await new Promise<Timing>((resolve, reject) => {
    execFile(
      process.execPath,
      [CHILD, JSON.stringify(job)],
      { maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error === null) resolve(JSON.parse(stdout) as Timing);
        else if (error.code === STALLED_EXIT) reject(new StallError(stderr.trim()));
        else reject(new Error(stderr.trim() || error.message));
      },
    );
  });
  // The child measured its own CPU; the machine's share is measured here, around it.
  const machine = meter.stop(timing.seconds, timing.cpu.cpuSeconds);
  return { ...timing, cpu: { ...timing.cpu, ...machine, cores: timing.cpu.cores } };
}

/** The publish itself, in the process that runs it (publish-child.ts). */
export async function timePublishHere(job: PublishJob): Promise<Timing> {
  const recorder = phaseRecorder();
  const publisher = createEmbeddedPublisher({
    storage: job.storage,
    keysDir: job.keysDir,
    spoolDir: job.spool,
    logger: recorder.logger,
    profile: true,
  });
  const { tree, tag } = job;
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
    peakRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6,
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
