import { GOALS } from './goals.js';
import type { Machine } from './machine.js';
import { describeServerTiming } from './server-reference.js';
import { SLOW_CREATE_MICROS } from './creates.js';
import { describeRuns, type TreeGoals, type TreeResult } from './measure.js';
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
  met: Record<keyof TreeGoals, boolean | null>;
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

function allMet(trees: TreeResult[], goal: keyof TreeGoals): boolean | null {
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
      ...input.goals,
      meaning: {
        fullToServer:
          'full publish seconds / real cvmfs_server publish seconds on the same tree (the copy into its transaction not counted); generated tree, where cvmfs_server is set up',
        fullToLimit:
          "full publish seconds / the machine's limit on all cores: every file read, zlib level 6 in process, SHA-1 of the compressed bytes, one process per core, warm cache",
        changedToFull:
          'republish seconds after rewriting 1% of the files / full publish seconds (generated tree only)',
        changedSeconds: 'republish seconds after rewriting 1% of the files (generated tree only)',
        peakRssMb: 'peak resident memory of any publish of the tree, MB (10^6 bytes)',
        ratioToReference:
          'not a goal: full publish seconds / (sha1sum + gzip -6 seconds over the same bytes), GNU tools whose deflate is slower than zlib',
      },
    },
    trees: input.trees,
    met: Object.fromEntries(
      (Object.keys(GOAL_LABELS) as Array<keyof TreeGoals>).map((goal) => [
        goal,
        allMet(input.trees, goal),
      ]),
    ) as Report['met'],
    notes: input.notes,
  }) as Report;
}

function mark(met: boolean | null): string {
  return met === null ? 'n/a' : met ? 'met' : 'MISSED';
}

const GOAL_LABELS: Record<keyof TreeGoals, string> = {
  fullToServer: `full <= ${GOALS.fullToServer}x cvmfs_server`,
  fullToLimit: `full <= ${GOALS.fullToLimit}x the limit`,
  changedToFull: `1% < ${GOALS.changedToFull * 100}% of full`,
  changedSeconds: `1% < ${GOALS.changedSeconds} s`,
  peakRssMb: `peak memory < ${GOALS.peakRssMb} MB`,
};

/** A few lines for people (stderr). */
export function summarize(report: Report): string {
  const lines = [
    `\npublish benchmark (${report.machine.nproc} cores, ${report.machine.cpuModel}, node ${report.machine.node}, scan: ${report.machine.scanLister} lister)`,
  ];
  for (const tree of report.trees) {
    const mb = tree.inventory.bytes / 1e6;
    const { limit, full, unchanged, changed } = tree;
    lines.push(
      `  ${tree.kind} ${tree.tree}: ${tree.inventory.regularFiles} files, ${mb.toFixed(1)} MB`,
      `    limit (zlib 6 + SHA-1): ${limit.oneCore.seconds.toFixed(2)} s one core, ${limit.allCores.seconds.toFixed(2)} s on ${limit.allCores.processes}`,
      `    GNU sha1sum + gzip -6:  ${tree.reference.seconds.toFixed(2)} s (not a goal)`,
      `    cvmfs_server publish:   ${describeServerTiming(tree.server.full)}`,
    );
    if (full !== undefined) {
      lines.push(
        `    full publish:           ${full.seconds.toFixed(2)} s, ${full.mbPerSecond.toFixed(1)} MB/s, peak ${full.peakRssMb.toFixed(0)} MB, ${full.cpu.cores.toFixed(2)} cores (others ${full.cpu.otherCores.toFixed(2)}); ` +
          `${full.ratioToLimit.toFixed(2)}x limit (${mark(tree.goals.fullToLimit.met)}), ${full.ratioToServer?.toFixed(2) ?? '-'}x cvmfs_server (${mark(tree.goals.fullToServer.met)})`,
        `      rounds (full publish / the limit on all cores before it): ${full.rounds
          .map(
            (round) =>
              `${round.seconds.toFixed(2)} / ${round.limitSeconds.toFixed(2)} s = ${round.ratio.toFixed(2)}x (create ${round.createMicros.toFixed(0)} µs${round.createMicros > SLOW_CREATE_MICROS ? ', slow' : ''})`,
          )
          .join('; ')}; median of ${describeRuns(full)}`,
        `      phases: setup ${full.phases.setup.toFixed(2)}, scan ${full.phases.scan.toFixed(2)}, content ${full.phases.content.toFixed(2)}, catalogs+commit ${full.phases.catalogs.toFixed(2)}`,
      );
      const profile = full.stats.profile;
      if (profile !== undefined)
        lines.push(
          `      content steps (s, summed over threads): ${Object.entries(profile)
            .map(([step, seconds]) => `${step} ${seconds.toFixed(2)}`)
            .join(', ')}`,
        );
    }
    if (unchanged !== undefined)
      lines.push(
        `    unchanged:              ${unchanged.seconds.toFixed(2)} s (${(unchanged.ratioToFull * 100).toFixed(1)}% of full; median of ${describeRuns(unchanged)})`,
      );
    if (changed !== undefined && 'skipped' in changed)
      lines.push(`    1% changed:             skipped (${changed.skipped})`);
    else if (changed !== undefined) {
      lines.push(
        `    1% changed:             ${changed.seconds.toFixed(2)} s, ${(changed.ratioToFull * 100).toFixed(1)}% of full (${mark(tree.goals.changedToFull.met)}, under 1 s: ${mark(tree.goals.changedSeconds.met)}; median of ${describeRuns(changed)}), ` +
          `${changed.stats.objectsWritten} objects, ${changed.stats.catalogsWritten} catalogs written, ${changed.stats.catalogsReused} reused`,
        `    cvmfs_server 1%:        ${describeServerTiming(tree.server.changed)}`,
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
    `  goals: ${(Object.keys(GOAL_LABELS) as Array<keyof TreeGoals>).map((goal) => `${GOAL_LABELS[goal]} ${mark(report.met[goal])}`).join('; ')}\n`,
  );
  return lines.join('\n') + '\n';
}
