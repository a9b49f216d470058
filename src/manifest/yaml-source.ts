import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node, YAMLError } from 'yaml';
import type { FieldIssue, Issue } from './issue.js';

export type FieldPath = readonly (string | number)[];

/** A parsed YAML file that can point back at the text of any field. */
export interface YamlSource {
  readonly file: string;
  /** The plain value (aliases resolved); `undefined` for an empty file. */
  readonly data: unknown;
  /** Syntax errors (with their positions), duplicate keys and parser warnings. */
  readonly issues: readonly Issue[];
  /** False when syntax errors make the data unreliable, so schema checks would mislead. */
  readonly usable: boolean;
  /** 1-based line and column of a field: its value or its key; for a missing field, its parent. */
  locate(path: FieldPath, at?: 'key' | 'value'): { line: number; column: number };
  /** The text of a scalar as written, e.g. `0644` where the value is the number 644. */
  sourceText(path: FieldPath): string | undefined;
}

/** Errors after which the tree is still what the author meant, so validation can go on. */
const recoverableCodes: ReadonlySet<string> = new Set(['DUPLICATE_KEY']);

/** The largest manifest or pipeline text parsed: real ones are a few kB, a locked one ~50 kB. */
export const MAX_YAML_BYTES = 4 << 20;

export function parseYamlSource(text: string, file: string): YamlSource {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES) return oversized(text, file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const issues = [
    ...doc.errors.map((error) => yamlIssue(doc, text, file, error, 'error', position)),
    ...doc.warnings.map((warning) => yamlIssue(doc, text, file, warning, 'warning', position)),
  ];
  let usable = doc.errors.every((error) => recoverableCodes.has(error.code));
  let data: unknown;
  if (usable) {
    try {
      data = plainValue(doc);
    } catch (error) {
      // yaml refuses to expand more aliases than maxAliasCount (an alias bomb).
      usable = false;
      issues.push({
        severity: 'error',
        file,
        ...firstAlias(doc, position),
        path: '',
        message: `the YAML cannot be expanded: ${(error as Error).message}`,
      });
    }
  }
  return {
    file,
    data,
    issues,
    usable,
    locate(path, at = 'value') {
      return position(offsetOf(doc, path, at));
    },
    sourceText(path) {
      const found = walk(doc, path);
      if (!found.complete || !isScalar(found.node) || !found.node.range) return undefined;
      return text.slice(found.node.range[0], found.node.range[1]);
    },
  };
}

function oversized(text: string, file: string): YamlSource {
  return {
    file,
    data: undefined,
    issues: [
      {
        severity: 'error',
        file,
        line: 1,
        column: 1,
        path: '',
        message: `the file is ${Buffer.byteLength(text)} bytes; at most ${MAX_YAML_BYTES} are read`,
      },
    ],
    usable: false,
    locate: () => ({ line: 1, column: 1 }),
    sourceText: () => undefined,
  };
}

/** At most this many alias expansions (the yaml library's default, named here on purpose). */
const MAX_ALIAS_COUNT = 100;

function plainValue(doc: Document): unknown {
  return doc.contents === null
    ? undefined
    : (doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown);
}

function firstAlias(
  doc: Document,
  position: (offset: number) => { line: number; column: number },
): { line: number; column: number } {
  let offset = 0;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return position(offset);
}

function yamlIssue(
  doc: Document,
  text: string,
  file: string,
  error: YAMLError,
  severity: Issue['severity'],
  position: (offset: number) => { line: number; column: number },
): Issue {
  const [start, end] = error.pos;
  if (error.code === 'DUPLICATE_KEY') {
    const path = pathAtOffset(doc, start);
    const key = String(path.at(-1) ?? text.slice(start, end));
    return {
      severity,
      file,
      ...position(start),
      path: path.join('.'),
      message: `duplicate key ${JSON.stringify(key)}: each key may appear once in a mapping`,
    };
  }
  const first = error.message.split('\n')[0] ?? error.message;
  return { severity, file, ...position(start), path: '', message: `invalid YAML: ${first}` };
}

interface Walked {
  /** The node reached: the field's value, or the deepest existing ancestor. */
  node: Node | null;
  /** The key of the last pair entered, if any. */
  key: Node | null;
  complete: boolean;
}

function walk(doc: Document, path: FieldPath): Walked {
  let node = resolve(doc, doc.contents);
  let key: Node | null = null;
  for (const segment of path) {
    let next: { key: Node | null; value: Node | null } | undefined;
    if (isMap(node)) {
      // The last pair wins, as in the plain value, when a key is duplicated.
      const pair = node.items.findLast((item) => keyText(item.key) === String(segment));
      if (pair) next = { key: pair.key as Node | null, value: pair.value as Node | null };
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (item !== undefined) next = { key: null, value: item };
    }
    if (next === undefined) return { node, key, complete: false };
    key = next.key ?? key;
    node = resolve(doc, next.value);
  }
  return { node, key, complete: true };
}

function offsetOf(doc: Document, path: FieldPath, at: 'key' | 'value'): number {
  const found = walk(doc, path);
  const start = (node: Node | null): number | undefined => node?.range?.[0];
  if (found.complete) {
    const preferred = at === 'key' ? start(found.key) : start(found.node);
    return preferred ?? start(found.node) ?? start(found.key) ?? 0;
  }
  // A missing field: point at the mapping that should hold it, or at the key whose value is not one.
  if (isMap(found.node) || isSeq(found.node)) return start(found.node) ?? 0;
  return start(found.key) ?? start(found.node) ?? 0;
}

function resolve(doc: Document, node: Node | null): Node | null {
  if (isAlias(node)) return (node.resolve(doc) as Node | undefined) ?? null;
  return node;
}

function keyText(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

/** The field path of the key or value that contains `offset` (used to name duplicate keys). */
function pathAtOffset(doc: Document, offset: number): (string | number)[] {
  const path: (string | number)[] = [];
  let node = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) =>
          contains(item.key as Node | null, offset) || contains(item.value as Node | null, offset),
      );
      if (!pair) return path;
      path.push(keyText(pair.key) ?? '?');
      if (contains(pair.key as Node | null, offset)) return path;
      node = pair.value as Node | null;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => contains(item as Node | null, offset));
      if (index < 0) return path;
      path.push(index);
      node = node.items[index] as Node | null;
    } else {
      return path;
    }
  }
}

function contains(node: Node | null, offset: number): boolean {
  const range = node?.range;
  return range !== undefined && range !== null && range[0] <= offset && offset < range[2];
}

/** Locates issues found on data (schema or rules) in the file they came from. */
export function locateIssues(source: YamlSource, fieldIssues: readonly FieldIssue[]): Issue[] {
  return fieldIssues.map((issue) => ({
    severity: issue.severity,
    file: source.file,
    ...source.locate(issue.path, issue.at),
    path: issue.path.join('.'),
    message: issue.message,
  }));
}
