import { z } from 'zod';
import type { FieldIssue } from './issue.js';
import type { FieldPath, YamlSource } from './yaml-source.js';

/**
 * Turns zod's issues into messages about the YAML the author wrote: unknown keys point at the
 * key and suggest the allowed ones, missing keys point at the mapping that should hold them,
 * and a scalar YAML read as a number or boolean is shown as written, with the fix.
 */
export function fieldIssuesFromZod(
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  source: YamlSource,
): FieldIssue[] {
  return issues.flatMap((issue) => convert(issue, schema, source));
}

function convert(issue: z.core.$ZodIssue, schema: z.ZodType, source: YamlSource): FieldIssue[] {
  const path = issue.path.map((segment) =>
    typeof segment === 'symbol' ? String(segment) : segment,
  );
  const error = (message: string, at?: 'key'): FieldIssue => ({
    severity: 'error',
    path,
    message,
    ...(at === undefined ? {} : { at }),
  });
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        severity: 'error',
        path: [...path, key],
        message: unknownKeyMessage(key, objectKeysAt(schema, path)),
        at: 'key',
      }));
    case 'invalid_type': {
      const found = valueAt(source.data, path);
      if (!found.present) return [error('missing required field')];
      return [
        error(`expected ${typeName(issue.expected)}, got ${describe(found.value, source, path)}`),
      ];
    }
    case 'invalid_value':
      return [
        error(
          `expected ${choices(issue.values)}, got ${describe(valueAt(source.data, path).value, source, path)}`,
        ),
      ];
    case 'invalid_key':
      return [error(issue.issues[0]?.message ?? issue.message, 'key')];
    // Only zod's own wording is replaced; a schema's custom message is kept.
    case 'too_small':
      return [error(issue.message.startsWith('Too small') ? tooSmall(issue) : issue.message)];
    case 'too_big':
      return [error(issue.message.startsWith('Too big') ? tooBig(issue) : issue.message)];
    default:
      return [error(issue.message)];
  }
}

function unknownKeyMessage(key: string, allowed: readonly string[] | undefined): string {
  const base = `unknown field ${JSON.stringify(key)}`;
  if (allowed === undefined || allowed.length === 0) return base;
  const near = closest(key, allowed);
  if (near !== undefined) return `${base} (did you mean ${JSON.stringify(near)}?)`;
  return `${base}; allowed: ${allowed.join(', ')}`;
}

function tooSmall(issue: z.core.$ZodIssueTooSmall): string {
  const minimum = Number(issue.minimum);
  if (issue.origin === 'string')
    return minimum <= 1 ? 'must not be empty' : `must be at least ${minimum} characters`;
  if (issue.origin === 'array')
    return minimum <= 1 ? 'must not be an empty list' : `must list at least ${minimum} items`;
  return issue.message;
}

function tooBig(issue: z.core.$ZodIssueTooBig): string {
  const maximum = Number(issue.maximum);
  if (issue.origin === 'string') return `must be at most ${maximum} characters`;
  if (issue.origin === 'array') return `must list at most ${maximum} items`;
  return issue.message;
}

const typeNames: Record<string, string> = {
  string: 'a string',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  number: 'a number',
  boolean: 'true or false',
};

function typeName(expected: string): string {
  return typeNames[expected] ?? expected;
}

function choices(values: readonly unknown[]): string {
  const shown = values.map((value) => JSON.stringify(value));
  return shown.length === 1 ? (shown[0] ?? '') : `one of ${shown.join(', ')}`;
}

/** How a value looks to the author; scalars that YAML typed are shown as written, with the fix. */
function describe(value: unknown, source: YamlSource, path: FieldPath): string {
  if (value === undefined || value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(shorten(value));
  if (typeof value !== 'number' && typeof value !== 'boolean') return typeof value;
  const written = source.sourceText(path) ?? String(value);
  const kind = typeof value === 'boolean' ? 'a boolean' : 'a number';
  return `${written}, which YAML reads as ${kind}: write it in quotes, "${shorten(written)}"`;
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(data: unknown, path: FieldPath): { present: boolean; value?: unknown } {
  let value = data;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return { present: false };
    const container = value as Record<string | number, unknown>;
    if (!Object.hasOwn(container, segment)) return { present: false };
    value = container[segment];
  }
  return { present: true, value };
}

/** The keys a schema allows at `path`, for suggestions; undefined when any key is allowed. */
export function objectKeysAt(schema: z.ZodType, path: FieldPath): string[] | undefined {
  let current: z.ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject)
      current = (current.shape as Record<string, z.ZodType>)[String(segment)];
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else if (current instanceof z.ZodRecord) current = current.valueType as z.ZodType;
    else return undefined;
    current = current === undefined ? undefined : unwrap(current);
  }
  if (current instanceof z.ZodObject) return Object.keys(current.shape);
  // A record keyed by an enum (channels): its keys are the enum's values.
  if (current instanceof z.ZodRecord && current.keyType instanceof z.ZodEnum) {
    return (current.keyType.options as unknown[]).map(String);
  }
  return undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodDefault ||
    current instanceof z.ZodNullable
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function closest(key: string, allowed: readonly string[]): string | undefined {
  const limit = key.length <= 4 ? 1 : 2;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = editDistance(candidate.toLowerCase(), key.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance))
      best = { candidate, distance };
  }
  return best?.candidate;
}

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
