/** The goals for the publish, as ratios. */
export const GOALS = {
  /** Full publish seconds / (sha1sum + gzip -6 seconds over the same bytes), using both cores. */
  fullToReference: 1.5,
  /** Republish after changing 1% of the files / full publish. */
  changedToFull: 0.1,
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
