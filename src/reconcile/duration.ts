const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Seconds in a duration as the pipeline file writes it (`30m`, `36h`, `7d`; checked by its schema). */
export function durationSeconds(text: string): number {
  const match = /^([0-9]+)([smhdw])$/.exec(text);
  if (match === null) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number(match[1]) * UNITS[match[2]!]!;
}
