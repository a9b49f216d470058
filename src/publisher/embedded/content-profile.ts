/**
 * Where the content phase spends its time, per step, summed over the worker threads (so a
 * step's total may exceed the phase's wall time when the threads run side by side). Collected
 * only when asked for (`profile: true`), for the publish benchmark: reading the clock around
 * every step of every file is cheap but not free.
 */
// A type, not an interface: it is also a Record<string, number> (PublishStats.profile).
export type ContentProfile = {
  /** Reading file contents into memory. */
  read: number;
  /** Finding chunk boundaries in files above the chunking minimum. */
  chunk: number;
  /** SHA-1 of the raw bytes, the key of content stored before. */
  rawHash: number;
  /** Looking the raw key up in the state cache and checking its object exists. */
  lookup: number;
  compress: number;
  /** The content hash of the stored (compressed) bytes. */
  hash: number;
  /** Writing objects: temporary file, write, link into place. */
  write: number;
  /** Everything a worker did for its files, start to end of each job. */
  busy: number;
  /**
   * Worker time not spent on files: from the first file handed over to the last result, times
   * the workers, less `busy` (start-up, messages, waiting for work, an uneven end).
   */
  idle: number;
  /** Main thread: recording each file's result (state cache, stats). */
  record: number;
};

export type ContentStep = keyof ContentProfile;

export function emptyProfile(): ContentProfile {
  return {
    read: 0,
    chunk: 0,
    rawHash: 0,
    lookup: 0,
    compress: 0,
    hash: 0,
    write: 0,
    busy: 0,
    idle: 0,
    record: 0,
  };
}

export function addProfile(into: ContentProfile, from: Partial<ContentProfile>): void {
  // Once per file: no array of entries made for it.
  for (const step in from) into[step as ContentStep] += from[step as ContentStep]!;
}

/**
 * Seconds spent per step; `start()`/`stop()` cost nothing when profiling is off. The clock is
 * the thread's `performance.now()` (milliseconds, microsecond resolution): a dozen readings per
 * file, none of them allocating, as a BigInt of nanoseconds would.
 */
export class StepClock {
  readonly seconds: Partial<ContentProfile> = {};

  constructor(private readonly enabled: boolean) {}

  start(): number {
    return this.enabled ? performance.now() : 0;
  }

  stop(step: ContentStep, started: number): void {
    if (!this.enabled) return;
    this.seconds[step] = (this.seconds[step] ?? 0) + (performance.now() - started) / 1000;
  }
}
