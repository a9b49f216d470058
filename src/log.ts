/**
 * The library logs through this interface, never through `console` directly, so callers
 * (the CLI, GitHub Actions, tests) decide where lines go. Messages are fixed strings; the
 * variable parts go in `meta`, so that lines group.
 */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Progress of long work (bytes or items); the CLI renders it as a bar on a terminal. */
export interface Progress {
  start(label: string, total: number): void;
  advance(amount: number): void;
  /** Ends the display; `succeeded: false` says the work failed (default: it succeeded). */
  stop(succeeded?: boolean): void;
}

/** A progress that may be advanced before it starts: what came before shows at the start. */
export function deferredProgress(progress: Progress): Progress {
  let started = false;
  let early = 0;
  return {
    start(label, total) {
      started = true;
      progress.start(label, total);
      if (early > 0) progress.advance(early);
    },
    advance(amount) {
      if (started) progress.advance(amount);
      else early += amount;
    },
    stop: (succeeded) => progress.stop(succeeded),
  };
}

export const silentProgress: Progress = {
  start() {},
  advance() {},
  stop() {},
};
