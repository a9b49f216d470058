import { formatLocation } from '../errors.js';

export type Severity = 'error' | 'warning';

/** One problem found in a user-written file, located at the node it is about. */
export interface Issue {
  severity: Severity;
  file: string;
  /** 1-based line of the node the issue is about. */
  line: number;
  /** 1-based column of the node the issue is about. */
  column: number;
  /** Dotted field path, e.g. `packages.bash` or `files.0.mode`; empty for the whole file. */
  path: string;
  message: string;
}

/** An issue found on parsed data, before it is located in the file (rules work on data). */
export interface FieldIssue {
  severity: Severity;
  /** Path segments of the field, e.g. `['packages', 'bash']`. */
  path: readonly (string | number)[];
  message: string;
  /** Point at the key of the field rather than at its value (unknown or misspelt keys). */
  at?: 'key' | 'value';
}

/** The outcome of validating one file: the typed value when it has no errors, and every issue. */
export interface ValidationResult<T> {
  value?: T;
  issues: Issue[];
}

export function hasErrors(issues: readonly Issue[]): boolean {
  return issues.some((issue) => issue.severity === 'error');
}

/** Orders issues by file, then position, so output is stable whatever order rules ran in. */
export function sortIssues(issues: readonly Issue[]): Issue[] {
  return [...issues].sort(
    (a, b) =>
      compareText(a.file, b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      compareText(a.path, b.path) ||
      compareText(a.message, b.message),
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `manifests/testing.yaml:12:5 packages.bash: expected an exact version, got "^5.2"`. */
export function formatIssue(issue: Issue): string {
  const where = formatLocation({
    file: issue.file,
    line: issue.line,
    column: issue.column,
    ...(issue.path === '' ? {} : { path: issue.path }),
  });
  const prefix = issue.severity === 'warning' ? 'warning: ' : '';
  return `${where}: ${prefix}${issue.message}`;
}

/**
 * A GitHub Actions workflow command that shows the issue on the pull request's diff:
 * `::error file=…,line=…,col=…,title=…::message`.
 */
export function formatGithubAnnotation(issue: Issue): string {
  const properties = [
    `file=${escapeProperty(issue.file)}`,
    `line=${issue.line}`,
    `col=${issue.column}`,
    `title=${escapeProperty(issue.path === '' ? 'ucvm validate' : issue.path)}`,
  ].join(',');
  return `::${issue.severity} ${properties}::${escapeData(issue.message)}`;
}

/** GitHub's escaping of a command's message (`toCommandValue` in @actions/core). */
export function escapeData(text: string): string {
  return text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

/** GitHub's escaping of a command property: the message escapes plus `:` and `,`. */
export function escapeProperty(text: string): string {
  return escapeData(text).replaceAll(':', '%3A').replaceAll(',', '%2C');
}
