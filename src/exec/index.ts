import { execa, type Options } from 'execa';
import { UcvmError } from '../errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Exit codes that are not failures (default: only 0). */
  okExitCodes?: readonly number[];
  timeoutMs?: number;
  /** Returns stdout as a Buffer instead of text. */
  binary?: boolean;
}

function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/**
 * Runs a program and returns its output; a failure becomes one COMMAND_FAILED error carrying
 * the argv, the exit status and the tail of stderr. The only place in ucvm that starts processes.
 */
export async function run(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const execaOptions: Options = {
    reject: false,
    stripFinalNewline: false,
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    ...(options.env !== undefined && { env: options.env }),
    ...(options.input !== undefined && { input: options.input }),
    ...(options.timeoutMs !== undefined && { timeout: options.timeoutMs }),
  };
  const result = await execa(file, args, execaOptions);
  const ok = options.okExitCodes ?? [0];
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.failed && (result.exitCode === undefined || !ok.includes(result.exitCode))) {
    const status =
      result.signal !== undefined
        ? `signal ${result.signal}`
        : `exit code ${result.exitCode ?? '?'}`;
    const notFound = (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    throw new UcvmError(
      'COMMAND_FAILED',
      notFound ? `${file}: command not found` : `${file} failed with ${status}`,
      {
        details: notFound
          ? `Install ${file} or put it on PATH.`
          : `${[file, ...args].join(' ')}\n${tail(stderr)}`,
        cause: result.cause,
      },
    );
  }
  return { stdout, stderr, exitCode: result.exitCode ?? 0 };
}

/** Runs a program and returns its stdout as bytes. */
export async function runBinary(
  file: string,
  args: readonly string[],
  options: Omit<RunOptions, 'binary'> = {},
): Promise<Buffer> {
  const result = await execa(file, args, {
    reject: false,
    encoding: 'buffer',
    // Bytes, not text: a final 0x0a byte is data (execa would strip it by default).
    stripFinalNewline: false,
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    ...(options.env !== undefined && { env: options.env }),
    ...(options.input !== undefined && { input: options.input }),
  });
  if (result.failed) {
    throw new UcvmError(
      'COMMAND_FAILED',
      `${file} failed with exit code ${result.exitCode ?? '?'}`,
      {
        details: `${[file, ...args].join(' ')}\n${tail(Buffer.from(result.stderr).toString())}`,
        cause: result.cause,
      },
    );
  }
  return Buffer.from(result.stdout);
}

/** True if a program can be found on PATH. */
export async function hasCommand(name: string): Promise<boolean> {
  const result = await execa('sh', ['-c', `command -v "$1"`, 'sh', name], { reject: false });
  return result.exitCode === 0;
}
