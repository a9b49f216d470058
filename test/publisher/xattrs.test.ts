import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import {
  fsLister,
  nativeDirectoryLister,
  type DirectoryLister,
} from '../../src/publisher/embedded/directory-listing.js';
import { scanTree } from '../../src/publisher/embedded/scan.js';
import { walkTree } from '../../src/publisher/embedded/tree.js';
import {
  getfattrTreeXattrs,
  getfattrXattrsOf,
  nativeXattrReader,
  readEachXattrs,
  readXattrsOf,
  type XattrsBySource,
} from '../../src/publisher/embedded/xattrs.js';
import { tmpdir } from '../helpers/tmp.js';

const isRoot = process.getuid?.() === 0;

function setfattr(...args: string[]): void {
  execFileSync('setfattr', args);
}

function mkfifo(target: string): void {
  execFileSync('mkfifo', [target]);
}

/** Plain objects of hex values, so that a difference shows in the assertion's message. */
function printable(found: XattrsBySource): Record<string, Record<string, string>> {
  return Object.fromEntries(
    [...found].map(([source, xattrs]) => [
      source,
      Object.fromEntries([...xattrs].map(([key, value]) => [key, value.toString('hex')])),
    ]),
  );
}

/**
 * A tree whose entries of every kind carry attributes of every namespace this user may set, with
 * values empty, binary and of the format's largest size, and entries with none.
 */
async function attributedTree(): Promise<{ root: string; sources: string[] }> {
  const root = await tmpdir();
  const at = (name: string): string => path.join(root, name);
  writeFileSync(at('plain'), 'no attributes');
  writeFileSync(at('file'), 'x');
  setfattr('-n', 'user.text', '-v', 'hello', at('file'));
  setfattr('-n', 'user.binary', '-v', '0x00ff0a0d00', at('file'));
  setfattr('-n', 'user.empty', at('file'));
  setfattr('-n', 'user.largest', '-v', `0x${'ab'.repeat(255)}`, at('file'));
  mkdirSync(at('dir'));
  setfattr('-n', 'user.dir', '-v', 'd', at('dir'));
  writeFileSync(at('dir/inner'), '');
  setfattr('-n', 'user.deep', '-v', 'inner', at('dir/inner'));
  // getfattr escapes these in its output.
  writeFileSync(at('spaces and \\ a backslash'), '');
  setfattr('-n', 'user.odd', '-v', 'name', at('spaces and \\ a backslash'));
  // A symlink's own attributes are read, never its target's.
  symlinkSync('file', at('link'));
  mkfifo(at('fifo'));
  if (isRoot) {
    setfattr('-h', '-n', 'trusted.link', '-v', 'own', at('link'));
    setfattr('-n', 'trusted.fifo', '-v', 'f', at('fifo'));
    setfattr(
      '-n',
      'security.capability',
      '-v',
      '0x0100000200200000000000000000000000000000',
      at('file'),
    );
  }
  const sources = [
    root,
    ...['plain', 'file', 'dir', 'dir/inner', 'spaces and \\ a backslash', 'link', 'fifo'].map(at),
  ];
  return { root, sources };
}

describe('reading the extended attributes of given entries', () => {
  it('reads every entry given, over as many getfattr runs as their paths need', async () => {
    const dir = await tmpdir();
    // Long names, so that the paths pass the bytes one getfattr run is given several times.
    const sources = Array.from({ length: 1500 }, (_, i) =>
      path.join(dir, `${String(i).padStart(4, '0')}-${'n'.repeat(120)}`),
    );
    for (const source of sources) writeFileSync(source, '');
    // Every entry has one, so that an entry a run leaves out is missed.
    setfattr('-n', 'user.mark', '-v', 'all', ...sources.slice(1));
    setfattr('-n', 'user.mark', '-v', 'first', sources[0]!);

    for (const read of [getfattrXattrsOf, readXattrsOf]) {
      const found = await read(sources);
      expect([...found.keys()].sort()).toEqual([...sources].sort());
      expect(found.get(sources[0]!)?.get('user.mark')?.toString()).toBe('first');
      expect(found.get(sources[1499]!)?.get('user.mark')?.toString()).toBe('all');
      expect(await read([])).toEqual(new Map());
    }
  });

  it.runIf(nativeXattrReader !== undefined)(
    'reads through the addon exactly what getfattr reads, entry by entry and for the whole tree',
    async () => {
      const { root, sources } = await attributedTree();
      const native = readEachXattrs(sources, nativeXattrReader!);
      const perEntry = await getfattrXattrsOf(sources);
      const wholeTree = await getfattrTreeXattrs(root);
      expect(printable(native)).toEqual(printable(perEntry));
      expect(printable(native)).toEqual(printable(wholeTree));
      // What the tree was made with, so that the three cannot agree on reading nothing.
      const file = native.get(path.join(root, 'file'))!;
      expect(file.get('user.binary')).toEqual(Buffer.from([0, 0xff, 0x0a, 0x0d, 0]));
      expect(file.get('user.empty')).toEqual(Buffer.alloc(0));
      expect(file.get('user.largest')).toEqual(Buffer.alloc(255, 0xab));
      expect(native.has(path.join(root, 'plain'))).toBe(false);
      expect(native.get(path.join(root, 'link'))?.has('user.text') ?? false).toBe(false);
      if (isRoot) {
        expect(native.get(path.join(root, 'link'))?.get('trusted.link')?.toString()).toBe('own');
        expect(file.has('security.capability')).toBe(true);
      }
    },
  );

  it.runIf(nativeXattrReader !== undefined)('names an entry that cannot be read', async () => {
    const dir = await tmpdir();
    const gone = path.join(dir, 'gone');
    let caught: unknown;
    try {
      readEachXattrs([gone], nativeXattrReader!);
    } catch (error) {
      caught = error;
    }
    expect(isUcvmError(caught, 'TREE_INVALID')).toBe(true);
    expect((caught as Error).message).toBe(
      `cannot read the extended attributes of ${gone}: ENOENT`,
    );
  });
});

describe('the scan of a tree with extended attributes', () => {
  it.runIf(nativeXattrReader !== undefined)(
    'gives every node the same attributes through the addon as through getfattr, with either lister',
    async () => {
      const { root } = await attributedTree();
      const attributes = async (
        xattrReader: typeof nativeXattrReader | null,
        lister: DirectoryLister | undefined,
      ) => {
        const tree = await scanTree(root, { xattrs: true, xattrReader, lister });
        return Object.fromEntries(
          [...walkTree(tree)].map((node) => [
            node.path,
            Object.fromEntries(
              [...(node.xattrs ?? new Map<string, Buffer>())].map(([key, value]) => [
                key,
                value.toString('hex'),
              ]),
            ),
          ]),
        );
      };
      // The native lister asks only for the entries it marks as having attributes.
      const native = await attributes(nativeXattrReader, nativeDirectoryLister);
      expect(native).toEqual(await attributes(null, fsLister));
      expect(native).toEqual(await attributes(nativeXattrReader, fsLister));
      expect(native['/dir/inner']).toEqual({ 'user.deep': Buffer.from('inner').toString('hex') });
      expect(native['/dir']).toEqual({ 'user.dir': Buffer.from('d').toString('hex') });
    },
  );

  it('reports, for each reader, an attribute the format cannot hold', async () => {
    const root = await tmpdir();
    writeFileSync(path.join(root, 'big'), '');
    setfattr('-n', 'user.big', '-v', `0x${'00'.repeat(256)}`, path.join(root, 'big'));
    for (const xattrReader of [nativeXattrReader, null]) {
      if (xattrReader === undefined) continue;
      const error = await scanTree(root, { xattrs: true, xattrReader }).catch(
        (failure: unknown) => failure,
      );
      expect(isUcvmError(error, 'TREE_INVALID')).toBe(true);
      expect((error as UcvmError).details).toContain(
        '/big: extended attribute user.big is 256 bytes',
      );
    }
  });
});
