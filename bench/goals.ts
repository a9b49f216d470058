/** The goals of the publish benchmark (issue 14). */
export const GOALS = {
  /** Full publish seconds / real `cvmfs_server publish` seconds on the same tree. */
  fullToServer: 0.8,
  /** Full publish seconds / the machine's limit on all cores (see limit.ts). */
  fullToLimit: 1.5,
  /** Republish after changing 1% of the files / full publish. */
  changedToFull: 0.1,
  /** Republish after changing 1% of the files, seconds (generated full tree: 20,000 files). */
  changedSeconds: 1,
  /** Peak resident memory of a publish, MB. */
  peakRssMb: 1000,
} as const;

export interface GoalResult {
  goal: number;
  value: number | null;
  met: boolean | null;
}

export function checkAtMost(goal: number, value: number | undefined): GoalResult {
  return value === undefined
    ? { goal, value: null, met: null }
    : { goal, value: round(value, 3), met: value <= goal };
}

export function checkBelow(goal: number, value: number | undefined): GoalResult {
  return value === undefined
    ? { goal, value: null, met: null }
    : { goal, value: round(value, 3), met: value < goal };
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
