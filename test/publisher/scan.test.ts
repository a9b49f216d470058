import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  fsLister,
  nativeDirectoryLister,
  type DirectoryLister,
} from '../../src/publisher/embedded/directory-listing.js';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import { scanTree } from '../../src/publisher/embedded/scan.js';
import { stampOfFields } from '../../src/publisher/embedded/state-cache.js';
import { nameOf, walkTree, type TreeNode } from '../../src/publisher/embedded/tree.js';
import { tmpdir } from '../helpers/tmp.js';

/** What `work` throws (undefined if it returns). */
function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  return undefined;
}

const byBytes = (names: string[]): string[] =>
  [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

function hasCompiler(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "${CC:-cc}"'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const isRoot = process.getuid?.() === 0;

async function treeInvalid(scan: Promise<unknown>): Promise<UcvmError> {
  const error = await scan.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUcvmError(error, 'TREE_INVALID'), String(error)).toBe(true);
  return error as UcvmError;
}

/** A tree with an entry of every kind, odd modes, owners and times, and names of every sort. */
async function everyKindOfEntry(): Promise<string> {
  const root = await tmpdir();
  for (const name of ['b', 'a', 'Z', 'a b', 'é', '😀', 'Ａ', 'z~', '.hidden'])
    writeFileSync(path.join(root, name), name);
  mkdirSync(path.join(root, 'dir', 'empty'), { recursive: true });
  writeFileSync(path.join(root, 'dir', 'big'), Buffer.alloc(70_000, 1));
  linkSync(path.join(root, 'dir', 'big'), path.join(root, 'dir', 'hard link'));
  symlinkSync('../a', path.join(root, 'dir', 'link'));
  symlinkSync('/nowhere/at/all', path.join(root, 'dangling'));
  execFileSync('mkfifo', [path.join(root, 'dir', 'fifo')]);
  writeFileSync(path.join(root, 'setuid'), '#!/bin/sh\n');
  chmodSync(path.join(root, 'setuid'), 0o4755);
  // Before 1970, and far ahead (ns precision, negative seconds).
  utimesSync(path.join(root, 'a'), new Date(-1_234_567_500), new Date(-1_234_567_500));
  utimesSync(path.join(root, 'b'), 4_102_444_800.123, 4_102_444_800.123);
  lutimesSync(path.join(root, 'dir', 'link'), 1_000_000_000, 1_000_000_000);
  if (isRoot) {
    chownSync(path.join(root, 'Z'), 12_345, 54_321);
    execFileSync('mknod', [path.join(root, 'dir', 'null'), 'c', '1', '3']);
  }
  return root;
}

/**
 * Every field of every node, children as their paths: what two scans must agree on. The stamp
 * the native lister makes is left out here, and checked against the fields (see below).
 */
function flatten(tree: TreeNode): Array<Record<string, unknown>> {
  return [...walkTree(tree)].map(({ children, stamp: _stamp, ...fields }) => ({
    ...fields,
    children: children?.map((child) => child.path),
  }));
}

const listers: Array<[string, DirectoryLister | undefined]> = [
  ['node:fs', fsLister],
  ['the native addon', nativeDirectoryLister],
];

describe('the native directory lister', () => {
  it.runIf(hasCompiler())('is built wherever there is a C compiler', () => {
    expect(nativeDirectoryLister).toBeDefined();
  });

  it.runIf(nativeDirectoryLister !== undefined)(
    'reads the same tree as node:fs, every field of every entry',
    async () => {
      const root = await everyKindOfEntry();
      const viaFs = await scanTree(root, { xattrs: false, lister: fsLister });
      const viaNative = await scanTree(root, { xattrs: false, lister: nativeDirectoryLister });
      expect(flatten(viaNative)).toEqual(flatten(viaFs));
      // The stamps it makes are the ones printed from the fields (the spool's keys stay the same).
      const stamped = [...walkTree(viaNative)].filter((node) => node.stamp !== undefined);
      expect(stamped.map((node) => node.path)).toEqual(
        [...walkTree(viaFs)]
          .filter((node) => node.path !== '' && /^[ -~]*$/.test(nameOf(node.path)))
          .map((node) => node.path),
      );
      for (const node of stamped) expect(node.stamp).toBe(stampOfFields(node));
      const fields = flatten(viaNative).find((node) => node.path === '/a')!;
      expect(fields.mtime).toBe(-1_234_568);
      expect(fields.mtimeNs).toBe(500_000_000);
      expect(typeof fields.ctimeNs).toBe('bigint');
    },
  );
});

describe('the native directory lister, where it cannot list', () => {
  it.runIf(nativeDirectoryLister !== undefined)(
    'does not follow a symbolic link in place of the directory it lists',
    async () => {
      const root = await tmpdir({ 'real/file': 'x' });
      symlinkSync(path.join(root, 'real'), path.join(root, 'swapped'));
      const node = (await scanTree(root, { xattrs: false })).children!.find(
        (child) => child.path === '/real',
      )!;
      // As if the directory had been replaced by a link after the scan found it.
      const swapped = { ...node, path: '/swapped', source: path.join(root, 'swapped') };
      expect(thrown(() => nativeDirectoryLister!(swapped, []))).toMatchObject({ code: 'ENOTDIR' });
      expect(fsLister(node, []).map((child) => child.path)).toEqual(['/real/file']);
    },
  );
});

describe.each(listers)('the scan of a tree through %s', (_label, lister) => {
  it.runIf(lister !== undefined)(
    'throws the error code of a directory that cannot be listed',
    async () => {
      const root = await tmpdir();
      const gone = { ...(await scanTree(root, { xattrs: false })), source: `${root}/gone` };
      expect(thrown(() => lister!(gone, []))).toMatchObject({ code: 'ENOENT' });
    },
  );

  it.runIf(lister !== undefined)(
    'lists every directory in the byte order of its names, ASCII or not',
    async () => {
      const root = await tmpdir();
      // U+FF21 sorts before U+1F600 by bytes (EF.. < F0..) but after it in UTF-16 (FF21 > D83D).
      const mixed = ['b', 'a', 'Z', 'a b', 'é', '😀', 'Ａ', 'z~'];
      const ascii = ['m', 'B', '_x', '0', 'a.b', 'a-b', 'Aa'];
      for (const name of mixed) writeFileSync(path.join(root, name), name);
      mkdirSync(path.join(root, 'plain'));
      for (const name of ascii) writeFileSync(path.join(root, 'plain', name), name);
      const found: string[] = [];
      const tree = await scanTree(root, {
        xattrs: false,
        onFile: (node) => found.push(node.path),
        lister,
      });
      const names = (node: typeof tree): string[] => node.children!.map((c) => nameOf(c.path));
      expect(names(tree)).toEqual(byBytes([...mixed, 'plain']));
      const plain = tree.children!.find((child) => child.path === '/plain')!;
      expect(names(plain)).toEqual(byBytes(ascii));
      // Every regular file is handed on as it is found.
      expect(found.sort()).toEqual(
        [...mixed.map((n) => `/${n}`), ...ascii.map((n) => `/plain/${n}`)].sort(),
      );
    },
  );

  it.runIf(lister !== undefined)(
    'names every entry it cannot publish, and returns no tree',
    async () => {
      const root = await tmpdir({ 'fine.txt': 'x', 'sub/also fine': 'y' });
      writeFileSync(Buffer.concat([Buffer.from(`${root}/sub/bad-`), Buffer.from([0xff])]), 'x');
      writeFileSync(path.join(root, 'sub', 'line\nbreak'), 'x');
      mkdirSync(path.join(root, '.cvmfs'));
      const error = await treeInvalid(scanTree(root, { xattrs: false, lister }));
      expect(error.details).toContain('/sub/bad-\u00ff: name is not valid UTF-8');
      expect(error.details).toContain('/sub/"line\\nbreak": name contains a line break');
      expect(error.details).toContain("/.cvmfs: reserved for the client's virtual snapshot");
      expect(error.message).toContain('3 entries');
    },
  );
});
