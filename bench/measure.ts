import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isUcvmError } from '../src/errors.js';
import { scanTree } from '../src/publisher/embedded/scan.js';
import { checkAtMost, checkBelow, GOALS, type GoalResult } from './goals.js';
import { probeCreates, SLOW_CREATE_MICROS } from './creates.js';
import { takeInventory, type Inventory } from './inventory.js';
import { makeRepo, timePublish, type BenchRepo, type Timing } from './publish.js';
import { measureLimit, measureLimitAllCores, type Limit } from './limit.js';
import { measureReference, warmCache, type Reference } from './reference.js';
import {
  describeServerTiming,
  type ServerReference,
  type ServerTiming,
} from './server-reference.js';
import { say } from './shell.js';
import { failOnStall, StallError } from './stall.js';
import type { Change } from './trees.js';

export interface Refusal {
  tree: string;
  code: string;
  message: string;
  details: string | undefined;
}

export interface StepError {
  step: string;
  message: string;
  /** The step deadlocked (its promise could never settle). */
  stalled: boolean;
}

export interface TreeResult {
  kind: 'generated' | 'real';
  tree: string;
  inventory: Omit<Inventory, 'listFile'>;
  /** The machine's limit for this work: in-process zlib 6 + SHA-1, one core and all cores. */
  limit: Limit;
  /** GNU tools over the same bytes (`sha1sum` + `gzip -6`, one core each): a weaker reference. */
  reference: Reference;
  /** The real `cvmfs_server` on the same tree, or why it was skipped. */
  server: { full: ServerTiming; changed?: ServerTiming };
  full?: Timing &
    Repeated & {
      /** Each full publish, with the limit on all cores measured right before it. */
      rounds: FullRound[];
      /** The median of the rounds' ratios. */
      ratioToLimit: number;
      ratioToLimitOneCore: number;
      ratioToServer: number | null;
      ratioToReference: number;
    };
  unchanged?: Timing & Repeated & { ratioToFull: number };
  changed?:
    | (Timing & Repeated & { change: Change; ratioToFull: number; ratioToServer: number | null })
    | { skipped: string };
  /** Set when a step failed; the steps after it were not run. */
  error?: StepError;
  goals: TreeGoals;
}

export interface FullRound {
  seconds: number;
  limitSeconds: number;
  /** Microseconds per file created, probed right before the publish (see creates.ts). */
  createMicros: number;
  ratio: number;
}

export interface TreeGoals {
  fullToServer: GoalResult;
  fullToLimit: GoalResult;
  changedToFull: GoalResult;
  changedSeconds: GoalResult;
  peakRssMb: GoalResult;
}

/** Checks that the publisher accepts the tree (its own scan), without writing anything. */
export async function preflight(tree: string): Promise<Refusal | undefined> {
  try {
    await failOnStall(scanTree(tree, { xattrs: true }), `scanning ${tree}`);
    return undefined;
  } catch (error) {
    if (error instanceof StallError)
      return {
        tree,
        code: 'STALLED',
        message: error.message,
        details: 'scanTree (src/publisher/embedded/scan.ts) never settled',
      };
    if (!isUcvmError(error, 'TREE_INVALID')) throw error;
    return { tree, code: error.code, message: error.message, details: error.details };
  }
}

function brief(timing: Timing): string {
  const p = timing.phases;
  return `${timing.seconds.toFixed(2)} s, peak ${timing.peakRssMb.toFixed(0)} MB, on ${timing.cpu.cores.toFixed(2)} cores, others ${timing.cpu.otherCores.toFixed(2)} (setup ${p.setup.toFixed(2)}, scan ${p.scan.toFixed(2)}, content ${p.content.toFixed(2)}, catalogs+commit ${p.catalogs.toFixed(2)})`;
}

/** A republish is timed this often; the run of median time stands for it (see medianRun). */
export const REPUBLISH_RUNS = 3;

/**
 * Full publishes timed, each into a fresh repository right after a run of the limit on all
 * cores: this machine's speed drifts by 10 to 20% within minutes (the same compression took
 * 6.5 s of CPU in one run and 7.4 s in the next), so a publish is compared with the limit
 * measured beside it, and the median of the rounds' ratios is the figure.
 */
export const FULL_ROUNDS = 3;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Of repeated runs: each one's seconds, in order; `peakRssMb` is then the highest of them all. */
export interface Repeated {
  runsSeconds: number[];
}

/**
 * The run of median time, with every run's seconds and the highest peak memory of them all: one
 * republish varies by 15 to 20% with the machine's state, more than a goal's margin.
 */
function medianRun<T extends Timing>(runs: readonly T[]): T & Repeated {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return {
    ...sorted[Math.floor(sorted.length / 2)]!,
    peakRssMb: Math.max(...runs.map((run) => run.peakRssMb)),
    runsSeconds: runs.map((run) => run.seconds),
  };
}

/** `3 runs: 0.52, 0.49, 0.55 s`. */
export function describeRuns(repeated: Repeated): string {
  return `${repeated.runsSeconds.length} runs: ${repeated.runsSeconds.map((seconds) => seconds.toFixed(2)).join(', ')} s`;
}

function goals(result: Omit<TreeResult, 'goals'>): TreeGoals {
  const changed =
    result.changed !== undefined && 'ratioToFull' in result.changed ? result.changed : undefined;
  const peaks = [result.full, result.unchanged, changed].flatMap((timing) =>
    timing === undefined ? [] : [timing.peakRssMb],
  );
  return {
    fullToServer: checkAtMost(GOALS.fullToServer, result.full?.ratioToServer ?? undefined),
    fullToLimit: checkAtMost(GOALS.fullToLimit, result.full?.ratioToLimit),
    changedToFull: checkBelow(GOALS.changedToFull, changed?.ratioToFull),
    changedSeconds: checkBelow(GOALS.changedSeconds, changed?.seconds),
    peakRssMb: checkBelow(GOALS.peakRssMb, peaks.length === 0 ? undefined : Math.max(...peaks)),
  };
}

function serverSeconds(timing: ServerTiming | undefined): number | undefined {
  return timing === undefined || 'skipped' in timing ? undefined : timing.publishSeconds;
}

/**
 * Measures one tree in one run: the GNU tools reference, the machine's limit, full publishes
 * (FULL_ROUNDS, each into a fresh repository after the limit on all cores) and the real
 * cvmfs_server's (where set up), a republish of the same tree, and optionally a republish after
 * `change` (a string says why it is skipped) by both.
 * A failing step ends the tree with `error`.
 */
export async function measureTree(
  kind: TreeResult['kind'],
  tree: string,
  work: string,
  /** Changes the tree anew for each round (0, 1, …). */
  change: ((round: number) => Promise<Change>) | string,
  server: ServerReference,
): Promise<TreeResult> {
  await mkdir(work, { recursive: true });
  const { listFile, ...inventory } = await takeInventory(tree, join(work, 'files.list'));
  say(
    `${kind} ${tree}: ${inventory.regularFiles} files, ${(inventory.bytes / 1e6).toFixed(1)} MB, ${inventory.directories} directories`,
  );

  await warmCache(listFile);
  say(`${kind}: GNU tools reference (cat, sha1sum, gzip -6 over the same bytes)`);
  const reference = await measureReference(listFile, inventory.regularFiles, inventory.bytes);
  say(
    `${kind}: reference sha1 ${reference.sha1Seconds.toFixed(2)} s + gzip ${reference.gzipSeconds.toFixed(2)} s = ${reference.seconds.toFixed(2)} s (read alone ${reference.readSeconds.toFixed(2)} s; others used ${reference.cpu.gzip.otherCores.toFixed(2)} cores during gzip)`,
  );

  say(`${kind}: the machine's limit (zlib 6 + SHA-1 in process, one core, then all cores)`);
  await warmCache(listFile);
  const limit = await measureLimit(listFile);
  say(
    `${kind}: limit ${limit.oneCore.seconds.toFixed(2)} s on one core, ${limit.allCores.seconds.toFixed(2)} s on ${limit.allCores.processes} (compressed to ${(limit.compressedShare * 100).toFixed(0)}%)`,
  );

  const result: Omit<TreeResult, 'goals'> = {
    kind,
    tree,
    inventory,
    limit,
    reference,
    server: { full: { skipped: 'not run' } },
  };
  let step = 'init';
  try {
    const runs: Timing[] = [];
    const rounds: FullRound[] = [];
    let repo: BenchRepo | undefined;
    for (let round = 1; round <= FULL_ROUNDS; round++) {
      step = 'limit on all cores';
      const limitSeconds =
        round === 1 ? limit.allCores.seconds : (await measureLimitAllCores(listFile)).seconds;
      step = 'init';
      repo = await makeRepo(join(work, `repo-${round}`));
      await warmCache(listFile);
      const createMicros = probeCreates(work);
      step = 'full publish';
      say(`${kind}: full publish ${round} of ${FULL_ROUNDS}`);
      const run = await timePublish(repo, tree, 'full');
      runs.push(run);
      rounds.push({
        seconds: run.seconds,
        limitSeconds,
        ratio: run.seconds / limitSeconds,
        createMicros,
      });
      say(
        `${kind}: full publish ${run.seconds.toFixed(2)} s, the limit on all cores before it ${limitSeconds.toFixed(2)} s: ${(run.seconds / limitSeconds).toFixed(2)}x; creating a file took ${createMicros.toFixed(0)} µs${createMicros > SLOW_CREATE_MICROS ? ' (slow: files were deleted in masses minutes ago, see bench/readme.md)' : ''}`,
      );
    }
    const full = medianRun(runs);
    result.full = {
      ...full,
      rounds,
      ratioToLimit: median(rounds.map((round) => round.ratio)),
      ratioToLimitOneCore: full.seconds / limit.oneCore.seconds,
      ratioToServer: null,
      ratioToReference: full.seconds / reference.seconds,
    };
    step = 'cvmfs_server full publish';
    await warmCache(listFile);
    result.server.full = await server.full(tree);
    say(`${kind}: cvmfs_server publish ${describeServerTiming(result.server.full)}`);
    const serverFull = serverSeconds(result.server.full);
    if (serverFull !== undefined) result.full.ratioToServer = full.seconds / serverFull;
    say(
      `${kind}: full publish ${brief(full)} (median of ${describeRuns(full)}), ${full.mbPerSecond.toFixed(1)} MB/s, ${full.filesPerSecond.toFixed(0)} files/s; ${result.full.ratioToLimit.toFixed(2)}x the limit on all cores (median of ${rounds.map((round) => round.ratio.toFixed(2)).join(', ')}), ${result.full.ratioToServer?.toFixed(2) ?? '-'}x cvmfs_server`,
    );

    step = 'unchanged republish';
    // Into the last round's repository: its spool knows the tree as it is.
    const last = repo!;
    const unchangedRuns: Timing[] = [];
    for (let run = 1; run <= REPUBLISH_RUNS; run++)
      unchangedRuns.push(await timePublish(last, tree, `unchanged-${run}`));
    const unchanged = medianRun(unchangedRuns);
    result.unchanged = { ...unchanged, ratioToFull: unchanged.seconds / full.seconds };
    say(`${kind}: unchanged republish ${brief(unchanged)} (median of ${describeRuns(unchanged)})`);

    if (typeof change === 'string') {
      result.changed = { skipped: change };
    } else {
      // Each round changes other files with new content, then republishes; cvmfs_server gets the
      // first round's change.
      const changedRuns: Timing[] = [];
      let first: Change | undefined;
      for (let round = 0; round < REPUBLISH_RUNS; round++) {
        step = 'change 1%';
        const made = await change(round);
        first ??= made;
        say(
          `${kind}: changed ${made.files} files (${(made.bytesAfter / 1e6).toFixed(1)} MB), republishing`,
        );
        step = '1% republish';
        changedRuns.push(await timePublish(last, tree, `changed-1pct-${round + 1}`));
        if (round === 0) {
          step = 'cvmfs_server 1% publish';
          result.server.changed = await server.changed(tree);
        }
      }
      const timing = medianRun(changedRuns);
      const changed = {
        ...timing,
        change: first!,
        ratioToFull: timing.seconds / full.seconds,
        ratioToServer: null as number | null,
      };
      result.changed = changed;
      const serverChanged = serverSeconds(result.server.changed);
      if (serverChanged !== undefined) changed.ratioToServer = timing.seconds / serverChanged;
      say(
        `${kind}: 1% republish ${brief(timing)} (median of ${describeRuns(timing)}), ${(changed.ratioToFull * 100).toFixed(1)}% of the full publish; cvmfs_server ${describeServerTiming(result.server.changed)}`,
      );
    }
  } catch (error) {
    const message = isUcvmError(error)
      ? `${error.code}: ${error.message}${error.details ? `\n${error.details}` : ''}`
      : error instanceof Error
        ? error.message
        : String(error);
    result.error = { step, message, stalled: error instanceof StallError };
    say(`${kind}: ${step} failed: ${message}`);
  }
  return { ...result, goals: goals(result) };
}
