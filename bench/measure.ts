import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isUcvmError } from '../src/errors.js';
import { scanTree } from '../src/publisher/embedded/scan.js';
import { checkAtMost, checkBelow, GOALS, type GoalResult } from './goals.js';
import { takeInventory, type Inventory } from './inventory.js';
import { makeRepo, timePublish, type Timing } from './publish.js';
import { measureReference, warmCache, type Reference } from './reference.js';
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
  reference: Reference;
  full?: Timing & { ratioToReference: number };
  unchanged?: Timing & { ratioToFull: number };
  changed?: (Timing & { change: Change; ratioToFull: number }) | { skipped: string };
  /** Set when a step failed; the steps after it were not run. */
  error?: StepError;
  goals: { fullWithin1_5xReference: GoalResult; changedUnder10PercentOfFull: GoalResult };
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
  return `${timing.seconds.toFixed(2)} s on ${timing.cpu.cores.toFixed(2)} cores, others ${timing.cpu.otherCores.toFixed(2)} (setup ${p.setup.toFixed(2)}, scan ${p.scan.toFixed(2)}, content ${p.content.toFixed(2)}, catalogs+commit ${p.catalogs.toFixed(2)})`;
}

function goals(result: Omit<TreeResult, 'goals'>): TreeResult['goals'] {
  const changed =
    result.changed !== undefined && 'ratioToFull' in result.changed
      ? result.changed.ratioToFull
      : undefined;
  return {
    fullWithin1_5xReference: checkAtMost(GOALS.fullToReference, result.full?.ratioToReference),
    changedUnder10PercentOfFull: checkBelow(GOALS.changedToFull, changed),
  };
}

/**
 * Measures one tree in one run: the single-pass reference, a full publish into a fresh
 * repository, a republish of the same tree, and optionally a republish after `change`
 * (a string says why it is skipped). A failing step ends the tree with `error`.
 */
export async function measureTree(
  kind: TreeResult['kind'],
  tree: string,
  work: string,
  change: (() => Promise<Change>) | string,
): Promise<TreeResult> {
  await mkdir(work, { recursive: true });
  const { listFile, ...inventory } = await takeInventory(tree, join(work, 'files.list'));
  say(
    `${kind} ${tree}: ${inventory.regularFiles} files, ${(inventory.bytes / 1e6).toFixed(1)} MB, ${inventory.directories} directories`,
  );

  say(`${kind}: reference (cat, sha1sum, gzip -6 over the same bytes)`);
  const reference = await measureReference(listFile, inventory.regularFiles, inventory.bytes);
  say(
    `${kind}: reference sha1 ${reference.sha1Seconds.toFixed(2)} s + gzip ${reference.gzipSeconds.toFixed(2)} s = ${reference.seconds.toFixed(2)} s (read alone ${reference.readSeconds.toFixed(2)} s; others used ${reference.cpu.gzip.otherCores.toFixed(2)} cores during gzip)`,
  );

  const result: Omit<TreeResult, 'goals'> = { kind, tree, inventory, reference };
  let step = 'init';
  try {
    const repo = await makeRepo(join(work, 'repo'));
    await warmCache(listFile);
    step = 'full publish';
    say(`${kind}: full publish`);
    const full = await timePublish(repo, tree, 'full');
    result.full = { ...full, ratioToReference: full.seconds / reference.seconds };
    say(
      `${kind}: full publish ${brief(full)}, ${full.mbPerSecond.toFixed(1)} MB/s, ${full.filesPerSecond.toFixed(0)} files/s, ratio to reference ${result.full.ratioToReference.toFixed(2)}`,
    );

    step = 'unchanged republish';
    const unchanged = await timePublish(repo, tree, 'unchanged');
    result.unchanged = { ...unchanged, ratioToFull: unchanged.seconds / full.seconds };
    say(`${kind}: unchanged republish ${brief(unchanged)}`);

    if (typeof change === 'string') {
      result.changed = { skipped: change };
    } else {
      step = 'change 1%';
      const made = await change();
      say(
        `${kind}: changed ${made.files} files (${(made.bytesAfter / 1e6).toFixed(1)} MB), republishing`,
      );
      step = '1% republish';
      const timing = await timePublish(repo, tree, 'changed-1pct');
      result.changed = { ...timing, change: made, ratioToFull: timing.seconds / full.seconds };
      say(
        `${kind}: 1% republish ${brief(timing)}, ${(result.changed.ratioToFull * 100).toFixed(1)}% of the full publish`,
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
