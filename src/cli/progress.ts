import progressBars from 'cli-progress';
import type { Progress } from '../log.js';

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/**
 * A progress bar on a terminal; in CI logs (no TTY) a plain line every 10 %; nothing under --json.
 */
export function cliProgress(options: { json: boolean }): Progress {
  if (options.json) return { start() {}, advance() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new progressBars.SingleBar(
      {
        format: '{label} [{bar}] {percentage}% | {done}/{all} MB | {eta_formatted}',
        stream: process.stderr,
        hideCursor: true,
      },
      progressBars.Presets.shades_classic,
    );
    let done = 0;
    let label = '';
    let total = 0;
    return {
      start(name, all) {
        label = name;
        total = all;
        done = 0;
        bar.start(Math.max(all, 1), 0, { label, done: '0.0', all: megabytes(all) });
      },
      advance(amount) {
        done += amount;
        bar.update(Math.min(done, Math.max(total, 1)), {
          label,
          done: megabytes(done),
          all: megabytes(total),
        });
      },
      stop() {
        bar.stop();
      },
    };
  }
  // CI logs: a line when another 10 % is done, at most every 2 seconds, and one at the end.
  let done = 0;
  let total = 0;
  let label = '';
  let started = 0;
  let lastReport = 0;
  let lastFraction = 0;
  return {
    start(name, all) {
      label = name;
      total = all;
      done = 0;
      started = Date.now();
      lastReport = started;
      lastFraction = 0;
      process.stderr.write(`${label}: ${megabytes(all)} MB\n`);
    },
    advance(amount) {
      done += amount;
      const fraction = total > 0 ? done / total : 1;
      if (fraction - lastFraction >= 0.1 && Date.now() - lastReport >= 2000) {
        process.stderr.write(
          `${label}: ${Math.floor(fraction * 100)}% (${megabytes(done)}/${megabytes(total)} MB)\n`,
        );
        lastReport = Date.now();
        lastFraction = fraction;
      }
    },
    stop(succeeded = true) {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      process.stderr.write(
        succeeded
          ? `${label}: done, ${megabytes(done)} MB in ${seconds} s\n`
          : `${label}: failed after ${megabytes(done)}/${megabytes(total)} MB, ${seconds} s\n`,
      );
    },
  };
}
