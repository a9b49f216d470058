import { run } from '../../exec/index.js';
import { UcvmError } from '../../errors.js';

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

/**
 * Extended attributes of every file below `root`, read by one `getfattr` process (one process
 * for the whole tree is far cheaper than a call per file). Symbolic links are not followed.
 */
export async function readTreeXattrs(root: string): Promise<Map<string, Map<string, Buffer>>> {
  try {
    const { stdout } = await run('getfattr', [
      '-R',
      '-P',
      '-h',
      '-d',
      '-m',
      '-',
      '-e',
      'hex',
      '--absolute-names',
      root,
    ]);
    return parseGetfattrDump(stdout);
  } catch (error) {
    throw new UcvmError('TREE_INVALID', 'cannot read extended attributes of the tree', {
      details:
        'getfattr (Debian package attr) is needed to publish extended attributes such as file capabilities; install it, or publish with --no-xattrs.',
      cause: error,
    });
  }
}
