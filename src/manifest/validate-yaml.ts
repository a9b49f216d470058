import type { z } from 'zod';
import type { FieldIssue, Issue } from './issue.js';
import { hasErrors, sortIssues } from './issue.js';
import { locateIssues, parseYamlSource } from './yaml-source.js';
import type { YamlSource } from './yaml-source.js';
import { fieldIssuesFromZod } from './zod-issues.js';

export interface YamlValidation<T> {
  value?: T;
  issues: Issue[];
  source: YamlSource;
}

export interface YamlChecks<T> {
  /** Checks on the plain data that make sense even when the schema rejects it. */
  raw?: (data: unknown) => FieldIssue[];
  /** Checks on the typed value, run only once the schema accepted it. */
  typed?: (value: T) => FieldIssue[];
}

/**
 * Parses YAML text and checks it against a schema, collecting every issue in one run: syntax
 * errors and duplicate keys, every schema issue, then the rules. The value is returned only
 * when there is no error (warnings are fine).
 */
export function validateYamlText<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  checks: YamlChecks<z.output<S>> = {},
): YamlValidation<z.output<S>> {
  const source = parseYamlSource(text, file);
  const issues: Issue[] = [...source.issues];
  if (!source.usable) return { issues: sortIssues(issues), source };

  const fieldIssues: FieldIssue[] = checks.raw?.(source.data) ?? [];
  const parsed = schema.safeParse(source.data);
  if (!parsed.success) {
    fieldIssues.push(...fieldIssuesFromZod(parsed.error.issues, schema, source));
  } else {
    fieldIssues.push(...(checks.typed?.(parsed.data) ?? []));
  }
  issues.push(...locateIssues(source, fieldIssues));
  const sorted = sortIssues(issues);
  if (!parsed.success || hasErrors(sorted)) return { issues: sorted, source };
  return { value: parsed.data, issues: sorted, source };
}

/** Reads a file's text; the caller passes the I/O (the core never touches the file system). */
export type ReadText = (path: string) => Promise<string>;

/** An issue for a file that could not be read at all. */
export function unreadableFileIssue(file: string, error: unknown): Issue {
  const code = (error as { code?: unknown } | null)?.code;
  const reason =
    code === 'ENOENT'
      ? 'file not found'
      : code === 'LIMIT_EXCEEDED' || code === 'MANIFEST_INVALID' || code === 'PIPELINE_INVALID'
        ? (error as Error).message
        : `cannot read the file${typeof code === 'string' ? ` (${code})` : ''}`;
  return { severity: 'error', file, line: 1, column: 1, path: '', message: reason };
}
