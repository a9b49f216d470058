import { xattrProblem } from '../../cvmfs/catalog/xattr.js';
import { run } from '../../exec/index.js';
import { UcvmError } from '../../errors.js';
import { nativeAddon, type NativeAddon } from '../../native/addon.js';
import { errorCode } from './directory-listing.js';
import type { TreeNode } from './tree.js';

/** Undoes getfattr's octal escapes (`\012`, `\\`) in file names, byte by byte. */
function unescapeName(text: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (
      raw[i] === 0x5c &&
      i + 3 < raw.length &&
      /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString('latin1'))
    ) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else if (raw[i] === 0x5c && raw[i + 1] === 0x5c) {
      bytes.push(0x5c);
      i += 1;
    } else {
      bytes.push(raw[i]!);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parses `getfattr -d -e hex` output into source path → attributes. */
export function parseGetfattrDump(text: string): Map<string, Map<string, Buffer>> {
  const result = new Map<string, Map<string, Buffer>>();
  let current: Map<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      result.set(unescapeName(line.slice('# file: '.length)), current);
      continue;
    }
    if (line === '' || current === undefined) continue;
    const at = line.indexOf('=');
    const key = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? '' : line.slice(at + 1);
    current.set(
      key,
      value.startsWith('0x')
        ? Buffer.from(value.slice(2), 'hex')
        : Buffer.from(value.replace(/^"|"$/g, '')),
    );
  }
  return result;
}

export type XattrsBySource = Map<string, Map<string, Buffer>>;

/** The extended attributes of one entry (a symlink itself); undefined if it has none. */
export type EntryXattrReader = (source: string) => Map<string, Buffer> | undefined;

function nativeReader(addon: NativeAddon): EntryXattrReader {
  return (source) => {
    const pairs = addon.readXattrs(source);
    if (pairs === undefined) return undefined;
    const found = new Map<string, Buffer>();
    for (let i = 0; i + 1 < pairs.length; i += 2)
      found.set(pairs[i] as string, pairs[i + 1] as Buffer);
    return found;
  };
}

/**
 * Reads through the addon (llistxattr and lgetxattr), where it is built: a system call or two per
 * entry instead of a getfattr process and its output to parse. Elsewhere getfattr reads them.
 */
export const nativeXattrReader: EntryXattrReader | undefined =
  nativeAddon === undefined ? undefined : nativeReader(nativeAddon);

const GETFATTR = ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names'];

async function getfattr(args: readonly string[]): Promise<XattrsBySource> {
  try {
    const { stdout } = await run('getfattr', [...GETFATTR, ...args]);
    return parseGetfattrDump(stdout);
  } catch (error) {
    throw new UcvmError('TREE_INVALID', 'cannot read extended attributes of the tree', {
      details:
        'getfattr (Debian package attr) is needed to publish extended attributes such as file capabilities; install it, or publish with --no-xattrs.',
      cause: error,
    });
  }
}

/**
 * Extended attributes of every file below `root`, read by one `getfattr` process (one process
 * for the whole tree is far cheaper than a getfattr per file). Symbolic links are not followed.
 */
export function getfattrTreeXattrs(root: string): Promise<XattrsBySource> {
  return getfattr(['-R', '-P', root]);
}

/** Bytes of paths given to one getfattr process, well below the kernel's limit on arguments. */
const ARGUMENT_BYTES = 64 * 1024;

/** Extended attributes of the given entries themselves, through as many getfattr runs as needed. */
export async function getfattrXattrsOf(sources: readonly string[]): Promise<XattrsBySource> {
  const found: XattrsBySource = new Map();
  for (let start = 0; start < sources.length;) {
    let end = start;
    for (let bytes = 0; end < sources.length && (end === start || bytes < ARGUMENT_BYTES); end++)
      bytes += Buffer.byteLength(sources[end]!) + 1;
    for (const [source, xattrs] of await getfattr(['--', ...sources.slice(start, end)]))
      found.set(source, xattrs);
    start = end;
  }
  return found;
}

/** The attributes of the given entries, each read by `reader`; a failure names the entry. */
export function readEachXattrs(
  sources: readonly string[],
  reader: EntryXattrReader,
): XattrsBySource {
  const found: XattrsBySource = new Map();
  for (const source of sources) {
    let xattrs: Map<string, Buffer> | undefined;
    try {
      xattrs = reader(source);
    } catch (error) {
      throw new UcvmError(
        'TREE_INVALID',
        `cannot read the extended attributes of ${source}: ${errorCode(error)}`,
        { where: { path: source } },
      );
    }
    if (xattrs !== undefined) found.set(source, xattrs);
  }
  return found;
}

/** Extended attributes of the given entries themselves (not of what is below them). */
export async function readXattrsOf(sources: readonly string[]): Promise<XattrsBySource> {
  return nativeXattrReader === undefined
    ? getfattrXattrsOf(sources)
    : readEachXattrs(sources, nativeXattrReader);
}

/** Gives a node the attributes read for it, and adds what the format cannot hold to `problems`. */
export function attachEntryXattrs(
  node: TreeNode,
  found: Map<string, Buffer>,
  problems: string[],
): void {
  for (const [key, value] of found) {
    const problem = xattrProblem(key, value);
    if (problem !== undefined) problems.push(`${node.path || '/'}: ${problem}`);
  }
  if (found.size > 255) problems.push(`${node.path || '/'}: more than 255 extended attributes`);
  node.xattrs = found;
}

/** attachEntryXattrs for each node that `read` has attributes of. */
export function attachXattrs(
  nodes: Iterable<TreeNode>,
  read: ReadonlyMap<string, Map<string, Buffer>>,
  problems: string[],
): void {
  if (read.size === 0) return;
  for (const node of nodes) {
    const found = read.get(node.source);
    if (found !== undefined) attachEntryXattrs(node, found, problems);
  }
}
