import { formatLocation, UcvmError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * Text from a repository (entry names, symlink targets, tags, descriptions) made safe for a
 * terminal: control characters (C0 but tab, DEL, C1) become visible escapes, so that a name
 * cannot move the cursor, recolour the screen or forge output lines. JSON output stays exact.
 */
export function printable(text: string, options: { newlines?: boolean } = {}): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, (char) => {
    if (char === '\n' && options.newlines === true) return char;
    const code = char.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : char;
  });
}

/** Prints a failure the way every command does and returns the exit status to use. */
export function reportFailure(error: unknown, debug: boolean): number {
  if (error instanceof UcvmError) {
    const where = formatLocation(error.where);
    process.stderr.write(
      `error ${error.code}: ${printable(where === '' ? '' : `${where}: `)}${printable(error.message)}\n`,
    );
    if (error.details !== undefined)
      process.stderr.write(`${indent(printable(error.details, { newlines: true }))}\n`);
    if (debug && error.cause !== undefined)
      process.stderr.write(`cause: ${describe(error.cause)}\n`);
    return error.exitCode;
  }
  process.stderr.write(`internal error: ${describe(error)}\n`);
  process.stderr.write('This is a bug in ucvm: please report it with the command you ran.\n');
  return 70;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? error.message;
  return String(error);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** Writes a result as JSON (for --json) or as text lines. */
export function emit(json: boolean, value: unknown, text: () => string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const body = text();
  if (body !== '') process.stdout.write(body.endsWith('\n') ? body : `${body}\n`);
}

/** A logger for the CLI: info to stderr as plain lines, warnings marked; quiet under --json. */
export function cliLogger(options: { quiet?: boolean } = {}): Logger {
  const line = (prefix: string, message: string, meta?: Record<string, unknown>): void => {
    const extra =
      meta === undefined
        ? ''
        : ` ${Object.entries(meta)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' ')}`;
    process.stderr.write(`${prefix}${message}${extra}\n`);
  };
  return {
    debug() {},
    info(message, meta) {
      if (options.quiet !== true) line('', message, meta);
    },
    warn(message, meta) {
      line('warning: ', message, meta);
    },
    error(message, meta) {
      line('error: ', message, meta);
    },
  };
}
