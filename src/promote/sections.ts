import { isMap, isScalar, parseDocument } from 'yaml';

/**
 * A top-level key of a YAML mapping as text: from the comment lines right above its key to the
 * line before the next key's comments. Blank lines after a section stay with it.
 */
interface Section {
  key: string;
  /** Offset where its leading comment lines (or its key line) start. */
  start: number;
  /** Offset of the key line. */
  keyLine: number;
  end: number;
}

function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Where the contiguous comment lines directly above `lineStart` begin. */
function commentsAbove(text: string, lineStart: number): number {
  let start = lineStart;
  while (start > 0) {
    const previous = lineStartOf(text, start - 1);
    if (!/^[ \t]*#/.test(text.slice(previous, start))) break;
    start = previous;
  }
  return start;
}

export function topLevelSections(text: string): Section[] {
  const doc = parseDocument(text);
  const root = doc.contents;
  if (!isMap(root)) throw new Error('a manifest is a mapping');
  const keys = root.items.map((item) => {
    if (!isScalar(item.key) || item.key.range === undefined || item.key.range === null)
      throw new Error('a manifest has plain keys');
    const keyLine = lineStartOf(text, item.key.range[0]);
    return { key: String(item.key.value), keyLine, start: commentsAbove(text, keyLine) };
  });
  // Comments at the very top of the file belong to the file, not to its first key.
  if (keys[0] !== undefined) keys[0].start = keys[0].keyLine;
  return keys.map((key, index) => ({
    ...key,
    end: keys[index + 1]?.start ?? text.length,
  }));
}

interface Replacement {
  start: number;
  end: number;
  text: string;
}

function applyReplacements(text: string, replacements: Replacement[]): string {
  let result = text;
  for (const change of [...replacements].sort((a, b) => b.start - a.start))
    result = result.slice(0, change.start) + change.text + result.slice(change.end);
  return result;
}

function withNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * `target` with the sections named in `keys` taken from `source` as they are written there
 * (their comments included): a key whose value is the same in both keeps its text, a key
 * only the source has is added (in the source's order), a key only the target has goes.
 * `remove` are keys dropped from the target whatever the source says. Every other byte of
 * `target` stays.
 */
export function copySections(
  target: string,
  source: string,
  keys: readonly string[],
  sameValue: (key: string) => boolean,
  remove: readonly string[] = [],
): string {
  const text = withNewline(target);
  const from = withNewline(source);
  const mine = topLevelSections(text);
  const theirs = topLevelSections(from);
  const replacements: Replacement[] = [];
  const sectionText = (section: Section): string =>
    withNewline(from.slice(section.start, section.end));
  for (const key of keys) {
    const own = mine.find((section) => section.key === key);
    const other = theirs.find((section) => section.key === key);
    if (own !== undefined && other !== undefined) {
      if (!sameValue(key)) replacements.push({ ...own, text: sectionText(other) });
    } else if (own !== undefined) replacements.push({ ...own, text: '' });
    else if (other !== undefined) {
      // Before the first later key (in the source's order) the target has, else at the end.
      const later = theirs.slice(theirs.indexOf(other) + 1).map((section) => section.key);
      const next = mine.find((section) => later.includes(section.key));
      const at = next?.start ?? text.length;
      replacements.push({ start: at, end: at, text: sectionText(other) });
    }
  }
  for (const key of remove) {
    const own = mine.find((section) => section.key === key);
    if (own !== undefined) replacements.push({ ...own, text: '' });
  }
  return applyReplacements(text, replacements);
}

/** Replaces the text of one scalar at `path` (e.g. ['system', 'version']), keeping its style. */
export function setScalar(text: string, path: readonly string[], value: string): string {
  const doc = parseDocument(text);
  const node = doc.getIn(path, true);
  if (!isScalar(node) || node.range === undefined || node.range === null)
    throw new Error(`${path.join('.')} is not a scalar`);
  const [start, end] = node.range;
  const written = text.slice(start, end);
  const quote = written.startsWith('"') ? '"' : written.startsWith("'") ? "'" : '';
  return `${text.slice(0, start)}${quote}${value}${quote}${text.slice(end)}`;
}

/** Appends (or replaces) a top-level section with the given YAML text. */
export function setSection(text: string, key: string, yamlText: string): string {
  const base = withNewline(text);
  const own = topLevelSections(base).find((section) => section.key === key);
  if (own === undefined) return `${base}${withNewline(yamlText)}`;
  return applyReplacements(base, [
    { start: own.keyLine, end: own.end, text: withNewline(yamlText) },
  ]);
}
