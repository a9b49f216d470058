import { UcvmError } from '../../errors.js';

/**
 * One deb822 paragraph (a control file, a Packages entry, a Release file). Field names keep
 * the case they were written in but are looked up case-insensitively. Multi-line values are
 * stored as logical lines joined by `\n`: the first line, then each continuation line without
 * its leading space or tab, with ` .` decoded to an empty line.
 */
/** Appends a field known to be new, skipping the case-insensitive check (for the parser). */
const appendParsed = Symbol('appendParsed');

export class ControlParagraph {
  readonly #fields = new Map<string, string>();
  readonly #lines = new Map<string, number>();
  /** Lower-cased name → name as written; built on the first lookup that is not exact. */
  #names: Map<string, string> | undefined;
  /** 1-based line of the paragraph's first field, when parsed from text. */
  readonly line: number | undefined;

  constructor(fields: Iterable<readonly [string, string]> = [], line?: number) {
    this.line = line;
    for (const [name, value] of fields) this.set(name, value);
  }

  get size(): number {
    return this.#fields.size;
  }

  /** The fields with their names as written, in order. */
  get fields(): ReadonlyMap<string, string> {
    return this.#fields;
  }

  #written(name: string): string | undefined {
    if (this.#fields.has(name)) return name;
    this.#names ??= new Map([...this.#fields.keys()].map((key) => [key.toLowerCase(), key]));
    return this.#names.get(name.toLowerCase());
  }

  get(name: string): string | undefined {
    const written = this.#written(name);
    return written === undefined ? undefined : this.#fields.get(written);
  }

  has(name: string): boolean {
    return this.#written(name) !== undefined;
  }

  /** Sets a field; an existing field keeps its place and the case of its name. */
  set(name: string, value: string, line?: number): this {
    const written = this.#written(name);
    if (written === undefined) this[appendParsed](name, value, line);
    else {
      this.#fields.set(written, value);
      if (line !== undefined) this.#lines.set(written, line);
    }
    return this;
  }

  delete(name: string): boolean {
    const written = this.#written(name);
    if (written === undefined) return false;
    this.#names?.delete(written.toLowerCase());
    this.#lines.delete(written);
    return this.#fields.delete(written);
  }

  /** 1-based line where the field starts, when parsed from text. */
  lineOf(name: string): number | undefined {
    const written = this.#written(name);
    return written === undefined ? undefined : this.#lines.get(written);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.#fields.entries();
  }

  [appendParsed](name: string, value: string, line: number | undefined): void {
    this.#fields.set(name, value);
    this.#names?.set(name.toLowerCase(), name);
    if (line !== undefined) this.#lines.set(name, line);
  }
}

export interface ParseControlOptions {
  /** Accept `#` comment lines, as in debian/control; Packages and Release files have none. */
  comments?: boolean;
  /** Named in error locations. */
  file?: string;
}

const fieldNamePattern = /^[\x21-\x39\x3b-\x7e]+$/;

/** Policy §5.1: printable US-ASCII without colon, not starting with `#` or `-`. */
function isFieldName(name: string): boolean {
  return fieldNamePattern.test(name) && !name.startsWith('#') && !name.startsWith('-');
}

function isBlank(line: string): boolean {
  return /^[ \t]*$/.test(line);
}

/** Parses deb822 text into paragraphs; throws PACKAGE_VERIFY naming the line on bad syntax. */
export function parseControl(text: string, options: ParseControlOptions = {}): ControlParagraph[] {
  const fail = (line: number, message: string): UcvmError =>
    new UcvmError('PACKAGE_VERIFY', `${options.file ?? 'control data'}:${line}: ${message}`, {
      where: { ...(options.file !== undefined && { file: options.file }), line },
    });
  const paragraphs: ControlParagraph[] = [];
  let current: ControlParagraph | undefined;
  let field: { name: string; value: string; line: number } | undefined;

  // One set for the whole parse: no per-paragraph allocation on large Packages files.
  const seen = new Set<string>();
  const flushField = (): void => {
    if (current === undefined || field === undefined) return;
    const key = field.name.toLowerCase();
    if (seen.has(key)) throw fail(field.line, `duplicate field '${field.name}' in one paragraph`);
    seen.add(key);
    current[appendParsed](field.name, field.value, field.line);
    field = undefined;
  };
  const flushParagraph = (): void => {
    flushField();
    if (current !== undefined) paragraphs.push(current);
    current = undefined;
    seen.clear();
  };

  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const raw = lines[index] as string;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const first = line.charCodeAt(0);
    if (first === 35 /* # */) {
      if (options.comments === true) continue;
      throw fail(lineNumber, "comment lines ('#') are not allowed in this file");
    }
    if (Number.isNaN(first) || ((first === 32 || first === 9) && isBlank(line))) {
      flushParagraph();
    } else if (first === 32 || first === 9) {
      if (field === undefined) throw fail(lineNumber, 'continuation line outside a field');
      const content = line.slice(1).trimEnd();
      field.value += content === '.' ? '\n' : `\n${content}`;
    } else {
      const colon = line.indexOf(':');
      if (colon < 0) throw fail(lineNumber, `expected 'Field: value', found '${line}'`);
      const name = line.slice(0, colon);
      if (!isFieldName(name)) throw fail(lineNumber, `invalid field name '${name}'`);
      flushField();
      current ??= new ControlParagraph([], lineNumber);
      field = { name, value: line.slice(colon + 1).trim(), line: lineNumber };
    }
  }
  flushParagraph();
  return paragraphs;
}

function formatValue(name: string, value: string): string {
  const [first = '', ...rest] = value.split('\n');
  if (first.trim() === '' && rest.length === 0) {
    throw new UcvmError('PACKAGE_VERIFY', `control field '${name}' has an empty value`);
  }
  const head = first.trim() === '' ? `${name}:` : `${name}: ${first.trim()}`;
  const continuation = rest.map((line) => {
    const content = line.trimEnd();
    if (content === '') return ' .';
    // " ." is how an empty line is written, so a line that is just "." cannot be written.
    if (content === '.') {
      throw new UcvmError('PACKAGE_VERIFY', `control field '${name}' has a line holding only '.'`);
    }
    return ` ${content}`;
  });
  return [head, ...continuation].join('\n');
}

/**
 * Writes paragraphs as deb822 text (fields in order, one blank line between paragraphs, a final
 * newline), the inverse of `parseControl`. Throws PACKAGE_VERIFY on a name or value that cannot
 * be written.
 */
export function formatControl(paragraphs: ControlParagraph | readonly ControlParagraph[]): string {
  const list = paragraphs instanceof ControlParagraph ? [paragraphs] : paragraphs;
  return list
    .map((paragraph) => {
      if (paragraph.size === 0)
        throw new UcvmError('PACKAGE_VERIFY', 'cannot write an empty control paragraph');
      const lines: string[] = [];
      for (const [name, value] of paragraph) {
        if (!isFieldName(name))
          throw new UcvmError('PACKAGE_VERIFY', `invalid control field name '${name}'`);
        lines.push(formatValue(name, value));
      }
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

/**
 * The fields of one paragraph, parsed from its text on first use: for large indices, where most
 * paragraphs are never read. A subclass supplies the text (which must be one paragraph that
 * `parseControl` accepts, else the first use throws PACKAGE_VERIFY) and may say which fields the
 * paragraph cannot have, so that `getField` answers a miss without parsing.
 */
export abstract class LazyFields implements ReadonlyMap<string, string> {
  #fields: ReadonlyMap<string, string> | undefined;

  /** The paragraph's deb822 text; asked once, on first use. */
  protected abstract paragraphText(): string;

  /** False only if the paragraph has no field `name` in any case. */
  protected mayHaveField(_name: string): boolean {
    return true;
  }

  #parsed(): ReadonlyMap<string, string> {
    this.#fields ??= parseControl(this.paragraphText())[0]?.fields ?? new Map<string, string>();
    return this.#fields;
  }

  get size(): number {
    return this.#parsed().size;
  }

  get(name: string): string | undefined {
    return this.#parsed().get(name);
  }

  has(name: string): boolean {
    return this.#parsed().has(name);
  }

  forEach(
    callback: (value: string, key: string, map: ReadonlyMap<string, string>) => void,
    thisArg?: unknown,
  ): void {
    for (const [key, value] of this.#parsed()) callback.call(thisArg, value, key, this);
  }

  entries(): MapIterator<[string, string]> {
    return this.#parsed().entries();
  }

  keys(): MapIterator<string> {
    return this.#parsed().keys();
  }

  values(): MapIterator<string> {
    return this.#parsed().values();
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.#parsed().entries();
  }

  /** `getField` on these fields. */
  lookup(name: string): string | undefined {
    if (this.#fields === undefined && !this.mayHaveField(name)) return undefined;
    return lookupIn(this.#parsed(), name);
  }
}

function lookupIn(fields: ReadonlyMap<string, string>, name: string): string | undefined {
  const exact = fields.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [key, value] of fields) {
    if (key.length === lower.length && key.toLowerCase() === lower) return value;
  }
  return undefined;
}

/**
 * Case-insensitive lookup in a plain field map such as `PackageRecord.fields` (the exact name
 * is tried first, as indices use the canonical spelling).
 */
export function getField(fields: ReadonlyMap<string, string>, name: string): string | undefined {
  return fields instanceof LazyFields ? fields.lookup(name) : lookupIn(fields, name);
}
