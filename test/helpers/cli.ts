import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The built CLI (npm test builds before running the tests). */
export const CLI = path.resolve(import.meta.dirname, '../../dist/src/cli/main.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ucvm` as a real process and waits for it. */
export function ucvm(
  args: readonly string[],
  options: {
    env?: Record<string, string>;
    cwd?: string;
    uid?: number;
    gid?: number;
    /** Another build of the CLI (the benchmark's). */
    cli?: string;
  } = {},
): CliResult {
  const result = spawnSync(process.execPath, [options.cli ?? CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', ...options.env },
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    ...(options.uid !== undefined && { uid: options.uid }),
    ...(options.gid !== undefined && { gid: options.gid }),
    maxBuffer: 64 << 20,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts `ucvm` without waiting; the caller may kill it. */
export function startUcvm(
  args: readonly string[],
  env: Record<string, string> = {},
  cli = CLI,
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (status) => resolve({ status, stdout, stderr })),
  );
  return { child, done };
}

/**
 * `ucvm repo serve` in its own process: a test that blocks its event loop (sync reads of a
 * FUSE mount) must not also be the server the client fetches from.
 */
export async function serveInChild(
  storages: readonly string[],
  cli = CLI,
): Promise<{ url: string; close(): Promise<void> }> {
  const run = startUcvm(['repo', 'serve', ...storages, '--port', '0', '--json'], {}, cli);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    run.child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('}')) resolve((JSON.parse(out) as { url: string }).url);
    });
    void run.done.then((result) => reject(new Error(`ucvm repo serve exited: ${result.stderr}`)));
  });
  return {
    url,
    close: async () => {
      run.child.kill('SIGTERM');
      await run.done;
    },
  };
}
