/** A replacement of `text.slice(start, end)`; an insertion when start equals end. */
export interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The offset where the line holding `pos` starts. */
export function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

/** The offset just after the line holding `pos` (after its newline). */
export function lineEnd(text: string, pos: number): number {
  const newline = text.indexOf('\n', pos);
  return newline < 0 ? text.length : newline + 1;
}

/** Moves a line start up over the column-0 comment lines right above it (they belong to it). */
export function sectionStart(text: string, start: number): number {
  let at = start;
  while (at > 0) {
    const previous = lineStart(text, at - 1);
    if (text[previous] !== '#') break;
    at = previous;
  }
  return at;
}

/** The lines of a block collection, one block per item: its line(s) and the lines above it. */
export interface ItemBlocks {
  start: number;
  end: number;
  /** Item i's text: from the end of item i-1 (for the first, from its own line) to its line end. */
  blocks: string[];
  /** Where each block starts in the text. */
  offsets: number[];
  /** Joins blocks (in any order) back into the region. */
  join(blocks: readonly string[]): string;
}

/**
 * Splits the region of a block collection into per-item blocks. The first item's block starts
 * at its own line, so comments under the collection's key stay at the top; later items carry
 * the comment and blank lines above them, so those move with the item.
 */
export function blockItems(
  text: string,
  items: readonly { start: number; end: number }[],
): ItemBlocks {
  const start = lineStart(text, items[0]?.start ?? 0);
  const blocks: string[] = [];
  const offsets: number[] = [];
  let at = start;
  for (const item of items) {
    const end = lineEnd(text, item.end);
    offsets.push(at);
    blocks.push(text.slice(at, end));
    at = end;
  }
  return {
    start,
    end: at,
    blocks,
    offsets,
    join(parts) {
      // The text ends with a newline (writeLockedSet adds one), so every block does too.
      return parts.map((part) => (part.endsWith('\n') ? part : `${part}\n`)).join('');
    },
  };
}

/** Applies non-overlapping edits; insertions at the same offset keep their order. */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const sorted = edits
    .map((edit, index) => ({ edit, index }))
    .sort((a, b) => a.edit.start - b.edit.start || a.index - b.index)
    .map(({ edit }) => edit);
  let out = '';
  let at = 0;
  for (const edit of sorted) {
    out += text.slice(at, edit.start) + edit.text;
    at = Math.max(at, edit.end);
  }
  return out + text.slice(at);
}
