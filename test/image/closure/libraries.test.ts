import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { followInTree, libraryClosure } from '../../../src/image/closure/libraries.js';
import { tmpdir } from '../../helpers/tmp.js';

/** The libraries ldd (the host's own loader) resolves for a program, as real paths. */
function ldd(file: string): string[] {
  const out = execFileSync('ldd', [file], { encoding: 'utf8' });
  return [...out.matchAll(/=> (\/\S+)|^\s+(\/\S+)/gm)].map((m) => realpathSync(m[1] ?? m[2]!));
}

describe('libraryClosure', () => {
  it.each(['/usr/bin/ls', '/usr/bin/gpgv', '/usr/bin/sqlite3'])(
    'finds in the host tree what ldd finds for %s',
    async (program) => {
      const closure = await libraryClosure('/', [program]);
      expect(closure.missing).toEqual([]);
      const real = new Set(closure.paths.map((p) => realpathSync(p)));
      for (const library of ldd(program)) expect(real.has(library), library).toBe(true);
      // The links on the way are kept (merged /usr: /lib → usr/lib, /lib64 → usr/lib64).
      expect(closure.paths).toContain('/lib64');
    },
  );

  it('resolves inside the tree only, and reports what the tree lacks', async () => {
    const tree = await tmpdir();
    const libs = path.join(tree, 'usr/lib/x86_64-linux-gnu');
    mkdirSync(libs, { recursive: true });
    mkdirSync(path.join(tree, 'usr/bin'), { recursive: true });
    mkdirSync(path.join(tree, 'usr/lib64'), { recursive: true });
    symlinkSync('usr/lib', path.join(tree, 'lib'));
    symlinkSync('usr/lib64', path.join(tree, 'lib64'));
    copyFileSync('/usr/bin/ls', path.join(tree, 'usr/bin/ls'));
    const loader = realpathSync('/lib64/ld-linux-x86-64.so.2');
    copyFileSync(loader, path.join(libs, path.basename(loader)));
    // An absolute link: inside the tree it names the tree's file, never the host's.
    symlinkSync(
      `/usr/lib/x86_64-linux-gnu/${path.basename(loader)}`,
      path.join(tree, 'usr/lib64/ld-linux-x86-64.so.2'),
    );
    copyFileSync(realpathSync('/lib/x86_64-linux-gnu/libc.so.6'), path.join(libs, 'libc.so.6'));
    const closure = await libraryClosure(tree, ['/usr/bin/ls']);
    expect(closure.paths).toEqual(
      [
        '/lib',
        '/lib64',
        '/usr/bin/ls',
        '/usr/lib/x86_64-linux-gnu/libc.so.6',
        `/usr/lib/x86_64-linux-gnu/${path.basename(loader)}`,
        '/usr/lib64/ld-linux-x86-64.so.2',
      ].sort(),
    );
    // What ls needs directly (readelf says), but for libc, which the tree has.
    const needed = [
      ...execFileSync('readelf', ['-d', '/usr/bin/ls'], { encoding: 'utf8' }).matchAll(
        /\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g,
      ),
    ].map((m) => m[1]!);
    expect(closure.missing).toEqual(
      needed
        .filter((name) => name !== 'libc.so.6')
        .map((library) => ({ library, neededBy: '/usr/bin/ls' })),
    );
  });

  it('follows links inside the tree and stops .. at its root', async () => {
    const tree = await tmpdir({ 'etc/real': 'x' });
    symlinkSync('../../../../etc/real', path.join(tree, 'etc/up'));
    symlinkSync('/etc/up', path.join(tree, 'abs'));
    expect(await followInTree(tree, '/abs')).toEqual({
      target: '/etc/real',
      links: ['/abs', '/etc/up'],
    });
    writeFileSync(path.join(tree, 'file'), '');
    expect(await followInTree(tree, '/file/below')).toBeUndefined();
    expect(await followInTree(tree, '/nothing')).toBeUndefined();
  });
});
