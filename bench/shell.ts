import { spawn } from 'node:child_process';

export interface Timed {
  seconds: number;
  stdout: Buffer;
  /** User + system CPU seconds of the script's child processes (bash `times`). */
  childCpuSeconds: number;
}

function minutesSeconds(text: string): number {
  const match = /^(\d+)m([\d.]+)s$/.exec(text);
  return match === null ? 0 : Number(match[1]) * 60 + Number(match[2]);
}

/** Parses the children's line of bash `times` (the last line of stderr). */
function childTimes(stderr: string): number {
  const last = stderr.trimEnd().split('\n').pop() ?? '';
  return last.split(/\s+/).reduce((sum, part) => sum + minutesSeconds(part), 0);
}

/** Runs a bash pipeline (with pipefail) and returns its wall time; fails on a non-zero exit. */
export function timeShell(script: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('bash', ['-c', `set -euo pipefail\n${script}\ntimes >&2`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (piece: Buffer) => out.push(piece));
    child.stderr.on('data', (piece: Buffer) => err.push(piece));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0)
        resolve({
          seconds,
          stdout: Buffer.concat(out),
          childCpuSeconds: childTimes(Buffer.concat(err).toString()),
        });
      else
        reject(
          new Error(
            `bash -c ${JSON.stringify(script)} failed (${signal ?? `exit ${code}`}): ${Buffer.concat(err).toString().trim()}`,
          ),
        );
    });
  });
}

/** Quotes a string for bash. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Seconds since `started` (from `process.hrtime.bigint()`). */
export function since(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Writes a line to stderr (the human log; stdout carries only the JSON). */
export function say(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
