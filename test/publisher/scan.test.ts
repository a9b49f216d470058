import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanTree } from '../../src/publisher/embedded/scan.js';
import { nameOf } from '../../src/publisher/embedded/tree.js';
import { tmpdir } from '../helpers/tmp.js';

const byBytes = (names: string[]): string[] =>
  [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe('the scan of a tree', () => {
  it('lists every directory in the byte order of its names, ASCII or not', async () => {
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
    });
    const names = (node: typeof tree): string[] => node.children!.map((c) => nameOf(c.path));
    expect(names(tree)).toEqual(byBytes([...mixed, 'plain']));
    const plain = tree.children!.find((child) => child.path === '/plain')!;
    expect(names(plain)).toEqual(byBytes(ascii));
    // Every regular file is handed on as it is found.
    expect(found.sort()).toEqual(
      [...mixed.map((n) => `/${n}`), ...ascii.map((n) => `/plain/${n}`)].sort(),
    );
  });
});
