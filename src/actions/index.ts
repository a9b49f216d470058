/**
 * The edge to GitHub Actions: job summaries, step outputs, annotations and masking through
 * `@actions/core`'s file and workflow commands. No GitHub API calls (pull requests, comments and
 * issues stay in thin `gh` steps of the workflows), and outside Actions (`GITHUB_ACTIONS` is not
 * `true`) every function does nothing, so the CLI behaves the same everywhere else.
 */
import { createRequire } from 'node:module';
import type * as Core from '@actions/core';
import type * as CoreCommand from '@actions/core/lib/command.js';

// @actions/core is loaded only under Actions (it costs a tenth of a second at every start).
const require = createRequire(import.meta.url);
const actionsCore = (): typeof Core => require('@actions/core') as typeof Core;
// core.error/warning order a command's properties `title,file,line,col`; this is the encoder they
// use (the same escaping), called with the order ucvm has always printed: `file,line,col,title`.
const issueCommand: typeof CoreCommand.issueCommand = (...args) =>
  (require('@actions/core/lib/command.js') as typeof CoreCommand).issueCommand(...args);

/** True under GitHub Actions (the runner sets `GITHUB_ACTIONS=true` for every step). */
export function underActions(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.GITHUB_ACTIONS === 'true';
}

/** A problem shown on a file's line in the pull request's diff and in the run's summary. */
export interface Annotation {
  severity: 'error' | 'warning' | 'notice';
  message: string;
  /** Path relative to the repository root. */
  file?: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  column?: number;
  title?: string;
}

/**
 * Prints the annotation as a workflow command on stdout (`::error file=…,line=…,col=…,title=…::…`).
 * Commands whose stdout is data (`--json`, `--markdown`) should not call it there.
 */
export function annotate(annotation: Annotation): void {
  if (!underActions()) return;
  const properties: Record<string, string> = {};
  if (annotation.file !== undefined) properties.file = annotation.file;
  if (annotation.line !== undefined) properties.line = String(annotation.line);
  if (annotation.column !== undefined) properties.col = String(annotation.column);
  if (annotation.title !== undefined && annotation.title !== '')
    properties.title = annotation.title;
  issueCommand(annotation.severity, properties, annotation.message);
}

/**
 * Appends Markdown to the job summary (`$GITHUB_STEP_SUMMARY`). Returns whether it was written; a
 * summary that cannot be written is a warning on stderr, never the command's failure.
 */
export async function appendSummary(markdown: string): Promise<boolean> {
  if (!underActions() || !process.env.GITHUB_STEP_SUMMARY) return false;
  try {
    await actionsCore()
      .summary.emptyBuffer()
      .addRaw(markdown.endsWith('\n') ? markdown : `${markdown}\n`)
      .write();
    return true;
  } catch (error) {
    actionsCore().summary.emptyBuffer();
    warnOnStderr(`the job summary was not written: ${describe(error)}`);
    return false;
  }
}

/**
 * Sets step outputs (`$GITHUB_OUTPUT`), booleans as `true`/`false`. Without `$GITHUB_OUTPUT` it
 * does nothing (core's fallback, the deprecated `::set-output` on stdout, would mix into data).
 */
export function setOutputs(outputs: Readonly<Record<string, string | number | boolean>>): boolean {
  if (!underActions() || !process.env.GITHUB_OUTPUT) return false;
  try {
    for (const [name, value] of Object.entries(outputs))
      actionsCore().setOutput(name, String(value));
    return true;
  } catch (error) {
    warnOnStderr(`the step outputs were not written: ${describe(error)}`);
    return false;
  }
}

/**
 * Masks a secret in the rest of the job's log. The runner masks line by line, so a multi-line
 * secret (a PEM key) is registered line by line too: every line of 8 characters or more, except
 * PEM armour (`-----BEGIN …-----`), which is not secret and would hide useful log lines.
 */
export function mask(secret: string): void {
  if (!underActions()) return;
  for (const line of secretLines(secret)) actionsCore().setSecret(line);
}

/** The parts of a secret that are registered for masking. */
export function secretLines(secret: string): string[] {
  const lines = secret
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length >= 8 && !/^-----(BEGIN|END) [A-Z0-9 ]+-----$/.test(line));
  const whole = secret.trim();
  if (!whole.includes('\n') && whole.length > 0 && !lines.includes(whole)) lines.push(whole);
  return [...new Set(lines)];
}

function warnOnStderr(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
