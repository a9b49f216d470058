import { isMap, isPair, isScalar, isSeq, parseDocument, Scalar, stringify } from 'yaml';
import type { Node, Pair, YAMLMap, YAMLSeq } from 'yaml';
import { compareDebianVersions } from '../packages/debian/version.js';
import { blockItems, lineEnd, lineStart, sectionStart } from './text-lines.js';
import type { Edit } from './text-lines.js';
import { applyEdits } from './text-lines.js';

/** What `ucvm lock` writes into a manifest: the roots and the closure. */
export interface LockedSet {
  install: readonly string[];
  packages: ReadonlyMap<string, string>;
}

/**
 * Writes the locked set into manifest text. The yaml Document locates `install` and
 * `packages`; only their text is edited, so every other byte (comments, quoting, flow or
 * block style, blank lines, key order) stays as it was. Both come out sorted by name. A pin
 * keeps its line, comments and quoting, and only its version changes when that changes; a
 * removed pin goes with the comment lines above it. A new `install` goes before `packages`,
 * a new `packages` before `files`. When nothing changes, the text is returned as it was.
 */
export function writeLockedSet(original: string, locked: LockedSet): string {
  // Edited text always ends with a newline; an unchanged one is returned as it was.
  const text = original === '' || original.endsWith('\n') ? original : `${original}\n`;
  const doc = parseDocument(text);
  const root = doc.contents;
  if (!isMap(root)) throw new Error('a manifest is a mapping');
  const roots = [...locked.install].sort(byName);
  const pins = [...locked.packages].sort(([a], [b]) => byName(a, b));
  const edits: Edit[] = [];
  const install = findPair(root, 'install');
  if (install === undefined) {
    const at = insertionPoint(text, root, ['packages', 'files', 'hotfix', 'rollback']);
    edits.push({ start: at, end: at, text: renderInstall(roots) });
  } else edits.push(...installEdits(text, install, roots));
  const packages = findPair(root, 'packages');
  if (packages === undefined) {
    const at = insertionPoint(text, root, ['files', 'hotfix', 'rollback']);
    edits.push({ start: at, end: at, text: renderPackages(pins, undefined) });
  } else edits.push(...packagesEdits(text, packages, pins));
  const changed = edits.filter((edit) => text.slice(edit.start, edit.end) !== edit.text);
  return changed.length === 0 ? original : applyEdits(text, changed);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function findPair(map: YAMLMap, key: string): Pair<Scalar, Node | null> | undefined {
  return map.items.find(
    (item): item is Pair<Scalar, Node | null> =>
      isPair(item) && isScalar(item.key) && item.key.value === key,
  );
}

/** Before the first of `keys` present (and the comment lines above it), else at the end. */
function insertionPoint(text: string, root: YAMLMap, keys: readonly string[]): number {
  for (const item of root.items) {
    if (!isScalar(item.key) || !keys.includes(String(item.key.value))) continue;
    const start = item.key.range?.[0];
    if (start !== undefined) return sectionStart(text, lineStart(text, start));
  }
  return text.length;
}

/** Replaces a whole `key: value` entry, from its key to the end of its value's line. */
function replacePair(text: string, pair: Pair<Scalar, Node | null>, section: string): Edit {
  const start = pair.key.range?.[0] ?? 0;
  const end = lineEnd(text, pair.value?.range?.[1] ?? pair.key.range?.[1] ?? start);
  return { start, end, text: section };
}

function installEdits(text: string, pair: Pair<Scalar, Node | null>, roots: string[]): Edit[] {
  const value = pair.value;
  if (isSeq(value) && value.flow !== true && value.items.length > 0) {
    return [blockSeqEdit(text, value, roots)];
  }
  if (isSeq(value) && value.flow === true && value.range != null && roots.length > 0) {
    const old = value.items.map((item) => (isScalar(item) ? String(item.value) : ''));
    if (old.join('\n') === roots.join('\n')) return [];
    return [{ start: value.range[0], end: value.range[1], text: `[${roots.join(', ')}]` }];
  }
  return [replacePair(text, pair, renderInstall(roots))];
}

function packagesEdits(
  text: string,
  pair: Pair<Scalar, Node | null>,
  pins: [string, string][],
): Edit[] {
  const value = pair.value;
  if (isMap(value) && value.flow !== true && value.items.length > 0) {
    return [blockMapEdit(text, value, pins)];
  }
  return [replacePair(text, pair, renderPackages(pins, undefined))];
}

/** Re-orders the item lines of a block sequence; new items copy the first item's prefix. */
function blockSeqEdit(text: string, seq: YAMLSeq, roots: readonly string[]): Edit {
  const items = seq.items.filter(isScalar);
  const first = items[0]?.range?.[0] ?? 0;
  const prefix = text.slice(lineStart(text, first), first);
  const region = blockItems(
    text,
    items.map((item) => ({ start: item.range?.[0] ?? 0, end: item.range?.[1] ?? 0 })),
  );
  const byValue = new Map(items.map((item, index) => [String(item.value), region.blocks[index]]));
  const lines = roots.map((name) => byValue.get(name) ?? `${prefix}${renderScalar(name)}\n`);
  return { start: region.start, end: region.end, text: region.join(lines) };
}

interface PinNode {
  name: string;
  version: string;
  type: Scalar['type'];
  /** The version scalar's offsets in the text. */
  start: number;
  end: number;
  keyStart: number;
}

function pinNodes(map: YAMLMap): PinNode[] {
  const nodes: PinNode[] = [];
  for (const item of map.items) {
    const { key, value } = item;
    if (!isScalar(key) || !isScalar(value) || key.range == null || value.range == null) continue;
    const [start, end] = value.range;
    const pin = { name: String(key.value), version: String(value.value), type: value.type };
    nodes.push({ ...pin, start, end, keyStart: key.range[0] });
  }
  return nodes;
}

/** Re-orders the item lines of the packages map; a changed version changes only its scalar. */
function blockMapEdit(text: string, map: YAMLMap, pins: readonly [string, string][]): Edit {
  const nodes = pinNodes(map);
  const firstKey = nodes[0]?.keyStart ?? 0;
  const indent = text.slice(lineStart(text, firstKey), firstKey);
  const region = blockItems(
    text,
    nodes.map((node) => ({ start: node.keyStart, end: node.end })),
  );
  const old = new Map(nodes.map((node, index) => [node.name, index]));
  const style = quotedStyle(nodes[0]?.type);
  const lines = pins.map(([name, version]) => {
    const index = old.get(name) ?? -1;
    const node = nodes[index];
    const block = region.blocks[index];
    const offset = region.offsets[index];
    if (node === undefined || block === undefined || offset === undefined)
      return `${indent}${renderScalar(name)}: ${renderScalar(version, style)}\n`;
    if (sameVersion(node.version, version)) return block;
    const rendered = renderScalar(version, quotedStyle(node.type));
    return block.slice(0, node.start - offset) + rendered + block.slice(node.end - offset);
  });
  return { start: region.start, end: region.end, text: region.join(lines) };
}

function quotedStyle(type: Scalar['type'] | undefined): Scalar['type'] {
  return type === Scalar.QUOTE_SINGLE || type === Scalar.QUOTE_DOUBLE ? type : undefined;
}

function sameVersion(a: string, b: string): boolean {
  try {
    return a === b || compareDebianVersions(a, b) === 0;
  } catch {
    return false;
  }
}

/** A scalar as yaml writes it: plain where that reads back as the same string, else quoted. */
function renderScalar(value: string, type?: Scalar['type']): string {
  const scalar = new Scalar(value);
  if (type !== undefined) scalar.type = type;
  return stringify(scalar).trimEnd();
}

function renderInstall(roots: readonly string[]): string {
  return `install:\n${roots.map((name) => `  - ${renderScalar(name)}\n`).join('')}`;
}

function renderPackages(pins: readonly [string, string][], type: Scalar['type']): string {
  const lines = pins.map(([name, version]) => `  ${name}: ${renderScalar(version, type)}\n`);
  return `packages:\n${lines.join('')}`;
}
