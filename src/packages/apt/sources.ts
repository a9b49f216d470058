import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { parseControl } from '../debian/control.js';

/** apt's `Signed-By`: keyring files, key fingerprints, or one inline ASCII-armored key. */
export interface SignedBy {
  /** Keyring files (binary or ASCII-armored), as host paths. */
  keyrings: readonly string[];
  /** Fingerprints: the signature must be made by one of these keys from the default keyrings. */
  fingerprints: readonly string[];
  /** An ASCII-armored public key block written in the sources file itself. */
  inlineKey?: string;
}

/** One repository and suite that apt would read binary packages from. */
export interface SourceEntry {
  /** Archive root without a trailing slash, e.g. `http://deb.debian.org/debian` or `file:/srv/repo`. */
  uri: string;
  suite: string;
  components: readonly string[];
  signedBy: SignedBy | undefined;
  /** Always `['deb']`: source-package entries are dropped. */
  types: readonly 'deb'[];
  /** Architectures the entry is restricted to, if it says so. */
  architectures?: readonly string[];
  /** The file the entry was read from (for messages). */
  file?: string;
}

const fingerprintPattern = /^[0-9A-Fa-f]{16,40}!?$/;

function parseSignedBy(value: string, rootDir: string): SignedBy | undefined {
  if (value.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) {
    // deb822 folds the key: each line is indented and empty lines are written as " .".
    const lines = value.split('\n').map((line) => line.trim());
    const key = lines
      .map((line) => (line === '.' ? '' : line))
      .join('\n')
      .trim();
    return { keyrings: [], fingerprints: [], inlineKey: `${key}\n` };
  }
  const keyrings: string[] = [];
  const fingerprints: string[] = [];
  for (const item of value.split(/[\s,]+/).filter((word) => word !== '')) {
    if (item.startsWith('/')) keyrings.push(path.join(rootDir, item));
    else if (fingerprintPattern.test(item)) fingerprints.push(item.replace(/!$/, '').toUpperCase());
    else keyrings.push(path.join(rootDir, item));
  }
  if (keyrings.length === 0 && fingerprints.length === 0) return undefined;
  return { keyrings, fingerprints };
}

function normalizeUri(uri: string): string {
  return uri.replace(/\/+$/, '');
}

function entryError(file: string, line: number | undefined, message: string): UcvmError {
  return new UcvmError('PIPELINE_INVALID', `${file}: ${message}`, {
    details: 'Fix the apt sources entry, or pass the sources explicitly.',
    where: line === undefined ? { file } : { file, line },
  });
}

/** Parses the one-line format (`deb [opt=value ...] uri suite [component ...]`). */
export function parseOneLineSources(text: string, file: string, rootDir = '/'): SourceEntry[] {
  const entries: SourceEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const typeMatch = /^(\S+)\s*(.*)$/.exec(line);
    const type = typeMatch?.[1];
    let rest = typeMatch?.[2] ?? '';
    const options = new Map<string, string>();
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) throw entryError(file, index + 1, 'unterminated option list "["');
      for (const option of rest.slice(1, end).split(/\s+/)) {
        const eq = option.indexOf('=');
        if (eq > 0) options.set(option.slice(0, eq).toLowerCase(), option.slice(eq + 1));
      }
      rest = rest.slice(end + 1);
    }
    const fields = rest.split(/\s+/).filter((word) => word !== '');
    if (type !== 'deb') return;
    const [uri, suite, ...components] = fields;
    if (uri === undefined || suite === undefined)
      throw entryError(file, index + 1, 'expected "deb uri suite [component ...]"');
    const signedBy = options.get('signed-by');
    const arch = options.get('arch');
    entries.push({
      uri: normalizeUri(uri),
      suite,
      components,
      signedBy:
        signedBy === undefined ? undefined : parseSignedBy(signedBy.replace(/,/g, ' '), rootDir),
      types: ['deb'],
      ...(arch !== undefined && { architectures: arch.split(',') }),
      file,
    });
  });
  return entries;
}

function words(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter((word) => word !== '');
}

/** Parses the deb822 format of `*.sources` files (one paragraph per entry, possibly several URIs and suites). */
export function parseDeb822Sources(text: string, file: string, rootDir = '/'): SourceEntry[] {
  const entries: SourceEntry[] = [];
  for (const paragraph of parseControl(text, { comments: true, file })) {
    if (paragraph.get('Enabled')?.trim().toLowerCase() === 'no') continue;
    if (!words(paragraph.get('Types')).includes('deb')) continue;
    const uris = words(paragraph.get('URIs'));
    const suites = words(paragraph.get('Suites'));
    if (uris.length === 0 || suites.length === 0)
      throw entryError(file, undefined, 'an entry needs URIs and Suites');
    const components = words(paragraph.get('Components'));
    const signedByValue = paragraph.get('Signed-By');
    const signedBy =
      signedByValue === undefined ? undefined : parseSignedBy(signedByValue, rootDir);
    const architectures = words(paragraph.get('Architectures'));
    for (const uri of uris) {
      for (const suite of suites) {
        entries.push({
          uri: normalizeUri(uri),
          suite,
          components,
          signedBy,
          types: ['deb'],
          ...(architectures.length > 0 && { architectures }),
          file,
        });
      }
    }
  }
  return entries;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Reads the `deb` entries apt would use on the machine whose root is `rootDir`:
 * `/etc/apt/sources.list`, then `/etc/apt/sources.list.d/*.list` and `*.sources` in name order.
 * Keyring paths in `Signed-By` are returned under `rootDir`.
 */
export async function readAptSources(rootDir = '/'): Promise<SourceEntry[]> {
  const entries: SourceEntry[] = [];
  const mainFile = path.join(rootDir, 'etc/apt/sources.list');
  const main = await readIfExists(mainFile);
  if (main !== undefined) entries.push(...parseOneLineSources(main, mainFile, rootDir));
  const partsDir = path.join(rootDir, 'etc/apt/sources.list.d');
  let names: string[] = [];
  try {
    names = (await readdir(partsDir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const name of names) {
    const file = path.join(partsDir, name);
    if (name.endsWith('.list'))
      entries.push(...parseOneLineSources(await readFile(file, 'utf8'), file, rootDir));
    else if (name.endsWith('.sources'))
      entries.push(...parseDeb822Sources(await readFile(file, 'utf8'), file, rootDir));
  }
  return entries;
}
