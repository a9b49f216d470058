import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validateWorkflow, type ValidationError } from '@action-validator/core';
import { vi } from 'vitest';

/** The repository's workflow directory. */
export const WORKFLOWS = path.resolve(import.meta.dirname, '../../.github/workflows');

/** Every workflow file of a directory, by name. */
export function workflowFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort();
}

/**
 * The problems the published GitHub workflow schema (SchemaStore's github-workflow.json, built
 * into @action-validator/core) and the validator's own checks (e.g. `needs` naming a job that
 * does not exist) find in a workflow file, one line each as `path: detail`. Nested `oneOf`
 * alternatives are flattened to their leaves.
 */
export function workflowProblems(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // It warns on stderr that it does not check `paths` globs against the tree; that is expected.
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    return [...new Set(validateWorkflow(text).errors.flatMap(leaves))];
  } finally {
    warn.mockRestore();
  }
}

function leaves(error: ValidationError): string[] {
  const nested = 'states' in error ? (error.states ?? []) : [];
  if (nested.length > 0) return nested.flatMap((state) => state.errors.flatMap(leaves));
  const where = 'path' in error && error.path !== '' ? error.path : '/';
  return [`${where}: ${error.detail ?? error.title}`];
}
