import { GOALS } from './goals.js';
import type { Machine } from './machine.js';
import type { TreeResult } from './measure.js';
import type { BenchOptions } from './options.js';

export interface ReportInput {
  startedAt: Date;
  options: BenchOptions;
  machine: Machine;
  goals: typeof GOALS;
  trees: TreeResult[];
  notes: Record<string, unknown>;
}

export interface Report {
  benchmark: 'publish';
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  options: { quick: boolean; only: readonly string[]; realTrees: readonly string[] };
  units: Record<string, string>;
  machine: Machine;
  goals: Record<string, unknown>;
  trees: TreeResult[];
  /** Per goal: true if every measured tree meets it, null if no tree measured it. */
  met: { fullWithin1_5xReference: boolean | null; changedUnder10PercentOfFull: boolean | null };
  notes: Record<string, unknown>;
}

/** Rounds every fractional number to 3 decimals (JSON readability; integers stay exact). */
function tidy(value: unknown): unknown {
  if (typeof value === 'number')
    return Number.isInteger(value) ? value : Math.round(value * 1000) / 1000;
  if (Array.isArray(value)) return value.map(tidy);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, tidy(inner)]));
  return value;
}

function allMet(trees: TreeResult[], goal: keyof TreeResult['goals']): boolean | null {
  const known = trees
    .map((tree) => tree.goals[goal].met)
    .filter((met): met is boolean => met !== null);
  return known.length === 0 ? null : known.every(Boolean);
}

export function toJson(input: ReportInput): Report {
  const finishedAt = new Date();
  return tidy({
    benchmark: 'publish',
    startedAt: input.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    totalSeconds: (finishedAt.getTime() - input.startedAt.getTime()) / 1000,
    options: {
      quick: input.options.quick,
      only: input.options.only,
      realTrees: input.options.realTrees,
    },
    units: { MB: '10^6 bytes', seconds: 'wall time', ratio: 'seconds / seconds' },
    machine: input.machine,
    goals: {
      fullToReference: input.goals.fullToReference,
      fullToReferenceMeaning:
        'full publish seconds / (sha1sum seconds + gzip -6 seconds over the same bytes, warm cache); the reference uses one core, the publish may use all',
      changedToFull: input.goals.changedToFull,
      changedToFullMeaning:
        'republish seconds after rewriting 1% of the files / full publish seconds (generated tree only)',
    },
    trees: input.trees,
    met: {
      fullWithin1_5xReference: allMet(input.trees, 'fullWithin1_5xReference'),
      changedUnder10PercentOfFull: allMet(input.trees, 'changedUnder10PercentOfFull'),
    },
    notes: input.notes,
  }) as Report;
}

function mark(met: boolean | null): string {
  return met === null ? 'n/a' : met ? 'met' : 'MISSED';
}

/** A few lines for people (stderr). */
export function summarize(report: Report): string {
  const lines = [
    `\npublish benchmark (${report.machine.nproc} cores, ${report.machine.cpuModel}, node ${report.machine.node})`,
  ];
  for (const tree of report.trees) {
    const mb = tree.inventory.bytes / 1e6;
    lines.push(
      `  ${tree.kind} ${tree.tree}: ${tree.inventory.regularFiles} files, ${mb.toFixed(1)} MB`,
    );
    lines.push(
      `    reference sha1sum+gzip -6: ${tree.reference.seconds.toFixed(2)} s (${tree.reference.mbPerSecond.toFixed(1)} MB/s)`,
    );
    const { full, unchanged, changed } = tree;
    if (full !== undefined) {
      lines.push(
        `    full publish:      ${full.seconds.toFixed(2)} s, ${full.mbPerSecond.toFixed(1)} MB/s, ${full.filesPerSecond.toFixed(0)} files/s, ` +
          `${full.ratioToReference.toFixed(2)}x reference (goal <= ${GOALS.fullToReference}: ${mark(tree.goals.fullWithin1_5xReference.met)})`,
      );
      lines.push(
        `    cores used:        publish ${full.cpu.cores.toFixed(2)} (others meanwhile ${full.cpu.otherCores.toFixed(2)}), ` +
          `gzip ${tree.reference.cpu.gzip.cores.toFixed(2)} (others meanwhile ${tree.reference.cpu.gzip.otherCores.toFixed(2)})`,
      );
    }
    if (unchanged !== undefined)
      lines.push(
        `    unchanged:         ${unchanged.seconds.toFixed(2)} s (${(unchanged.ratioToFull * 100).toFixed(1)}% of full)`,
      );
    if (changed !== undefined && 'skipped' in changed)
      lines.push(`    1% changed:        skipped (${changed.skipped})`);
    else if (changed !== undefined) {
      lines.push(
        `    1% changed:        ${changed.seconds.toFixed(2)} s (${(changed.ratioToFull * 100).toFixed(1)}% of full, goal < ${GOALS.changedToFull * 100}%: ${mark(tree.goals.changedUnder10PercentOfFull.met)}), ` +
          `${changed.stats.objectsWritten} objects, ${changed.stats.catalogsWritten} catalogs written, ${changed.stats.catalogsReused} reused`,
      );
    }
    if (tree.error !== undefined)
      lines.push(
        `    FAILED at ${tree.error.step}${tree.error.stalled ? ' (deadlock)' : ''}: ${tree.error.message.split('\n')[0]}`,
      );
  }
  const real = report.notes.real as
    | { used: string | null; refused: Array<{ tree: string; code: string; message: string }> }
    | undefined;
  for (const refusal of real?.refused ?? [])
    lines.push(
      `  real ${refusal.tree} not used: ${refusal.code} ${refusal.message.split('\n')[0]}`,
    );
  lines.push(
    `  goals: full <= 1.5x reference ${mark(report.met.fullWithin1_5xReference)}; 1% republish < 10% ${mark(report.met.changedUnder10PercentOfFull)}\n`,
  );
  return lines.join('\n') + '\n';
}
