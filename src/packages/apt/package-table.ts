import { isAscii } from 'node:buffer';
import { LazyFields, parseControl } from '../debian/control.js';
import type { PackageRecord } from '../package-source.js';
import { keyFields } from './packages.js';

/**
 * The usable records of one Packages file, column by column, with the file's bytes: what the
 * parsed-index cache stores. Record `i` is the stanza at bytes `spans[2i]..spans[2i+1]` of `text`,
 * whose field names are `fieldNames[fieldIds[k]]` for `k` in `fieldStarts[i]..fieldStarts[i+1]`;
 * its fields are parsed from that text only when first read.
 */
export interface PackageTable {
  /** The Packages file, uncompressed. */
  text: Buffer;
  spans: number[];
  /** Every field name of the file, as written. */
  fieldNames: string[];
  fieldIds: Uint16Array;
  /** One more than there are records. */
  fieldStarts: number[];
  names: string[];
  versions: string[];
  architectures: string[];
  filenames: string[];
  sizes: number[];
  sha256s: string[];
  /** Records whose stanza is not plain ASCII (decoded as UTF-8; the rest can be read as Latin-1). */
  unicode: number[];
  /** Stanzas without Package, Version, Architecture, Filename, Size or SHA256: not in the table. */
  skipped: number;
}

/**
 * Where each paragraph of deb822 bytes is, split exactly as `parseControl` splits text: a
 * paragraph is a run of lines that are not blank (blank: empty or only spaces and tabs, before an
 * optional final CR). Returns byte spans (end before the last line's LF) and first line numbers.
 */
export function paragraphSpans(data: Buffer): { spans: number[]; lines: number[] } {
  const spans: number[] = [];
  const lines: number[] = [];
  let start = -1;
  let end = 0;
  let line = 0;
  for (let pos = 0; pos < data.length;) {
    line += 1;
    let newline = data.indexOf(10, pos);
    if (newline < 0) newline = data.length;
    const stop = newline > pos && data[newline - 1] === 13 ? newline - 1 : newline;
    let blank = true;
    for (let i = pos; i < stop; i++) {
      const byte = data[i];
      if (byte !== 32 && byte !== 9) {
        blank = false;
        break;
      }
    }
    if (!blank) {
      if (start < 0) {
        start = pos;
        lines.push(line);
      }
      end = newline;
    } else if (start >= 0) {
      spans.push(start, end);
      start = -1;
    }
    pos = newline + 1;
  }
  if (start >= 0) spans.push(start, end);
  return { spans, lines };
}

/**
 * Parses a Packages file into a table. The whole file is checked as `parseControl` checks it
 * (PACKAGE_VERIFY naming `file` and the line on bad syntax), so every stanza kept parses again.
 */
export function parsePackageTable(data: Buffer, file: string): PackageTable {
  const paragraphs = parseControl(data.toString('utf8'), { file });
  const { spans, lines } = paragraphSpans(data);
  if (lines.length !== paragraphs.length)
    throw new Error(`${file}: ${lines.length} paragraph spans for ${paragraphs.length} paragraphs`);
  const table: PackageTable = {
    text: data,
    spans: [],
    fieldNames: [],
    fieldIds: new Uint16Array(0),
    fieldStarts: [0],
    names: [],
    versions: [],
    architectures: [],
    filenames: [],
    sizes: [],
    sha256s: [],
    unicode: [],
    skipped: 0,
  };
  const ids = new Map<string, number>();
  const fieldIds: number[] = [];
  paragraphs.forEach((paragraph, index) => {
    if (paragraph.line !== lines[index])
      throw new Error(`${file}: paragraph at line ${paragraph.line} found at ${lines[index]}`);
    const key = keyFields((name) => paragraph.get(name));
    if (key === undefined) {
      table.skipped += 1;
      return;
    }
    const start = spans[2 * index] as number;
    const end = spans[2 * index + 1] as number;
    if (!isAscii(data.subarray(start, end))) table.unicode.push(table.names.length);
    for (const name of paragraph.fields.keys()) {
      let id = ids.get(name);
      if (id === undefined) {
        id = table.fieldNames.push(name) - 1;
        ids.set(name, id);
      }
      fieldIds.push(id);
    }
    table.fieldStarts.push(fieldIds.length);
    table.spans.push(start, end);
    table.names.push(key.name);
    table.versions.push(key.version);
    table.architectures.push(key.architecture);
    table.filenames.push(key.filename);
    table.sizes.push(key.size);
    table.sha256s.push(key.sha256);
  });
  if (table.fieldNames.length > 0xffff) throw new Error(`${file}: too many field names`);
  table.fieldIds = Uint16Array.from(fieldIds);
  return table;
}

/** A table's records share it: their fields are parsed from its text on first use. */
class TableReader {
  readonly #table: PackageTable;
  readonly #unicode: Uint8Array;
  /** Lower-cased field name → which field ids have that name in any case. */
  readonly #masks = new Map<string, Uint8Array>();

  constructor(table: PackageTable) {
    this.#table = table;
    this.#unicode = new Uint8Array(table.names.length);
    for (const index of table.unicode) this.#unicode[index] = 1;
  }

  text(index: number): string {
    const start = this.#table.spans[2 * index] as number;
    const end = this.#table.spans[2 * index + 1] as number;
    return this.#table.text.toString(this.#unicode[index] === 1 ? 'utf8' : 'latin1', start, end);
  }

  hasField(index: number, name: string): boolean {
    const lower = name.toLowerCase();
    let mask = this.#masks.get(lower);
    if (mask === undefined) {
      mask = Uint8Array.from(this.#table.fieldNames, (field) =>
        field.length === lower.length && field.toLowerCase() === lower ? 1 : 0,
      );
      this.#masks.set(lower, mask);
    }
    const { fieldIds, fieldStarts } = this.#table;
    const end = fieldStarts[index + 1] as number;
    for (let k = fieldStarts[index] as number; k < end; k++)
      if (mask[fieldIds[k] as number] === 1) return true;
    return false;
  }
}

class TableFields extends LazyFields {
  readonly #reader: TableReader;
  readonly #index: number;

  constructor(reader: TableReader, index: number) {
    super();
    this.#reader = reader;
    this.#index = index;
  }

  protected override paragraphText(): string {
    return this.#reader.text(this.#index);
  }

  protected override mayHaveField(name: string): boolean {
    return this.#reader.hasField(this.#index, name);
  }
}

/** The records of a table whose architecture `keep` accepts, with `origin`, in file order. */
export function tableRecords(
  table: PackageTable,
  origin: string,
  keep: (architecture: string) => boolean,
): PackageRecord[] {
  const reader = new TableReader(table);
  const records: PackageRecord[] = [];
  for (let i = 0; i < table.names.length; i++) {
    const architecture = table.architectures[i] as string;
    if (!keep(architecture)) continue;
    records.push({
      name: table.names[i] as string,
      version: table.versions[i] as string,
      architecture,
      fields: new TableFields(reader, i),
      filename: table.filenames[i] as string,
      size: table.sizes[i] as number,
      sha256: table.sha256s[i] as string,
      origin,
    });
  }
  return records;
}
