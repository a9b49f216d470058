import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTemplate, readInstalledPackages } from '../../src/template/index.js';
import { isUcvmError } from '../../src/errors.js';
import { createFallbackSource, createPool } from '../../src/packages/pool/index.js';
import type { DebSpec } from '../helpers/deb-fixtures.js';
import { tmpdir } from '../helpers/tmp.js';
import { describeTree, fixtureManifest, serveArchive } from './fixtures.js';

const hello: DebSpec = {
  name: 'hello',
  version: '1.0-1',
  depends: 'libgreet (>= 2)',
  files: [{ path: '/usr/bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 }],
};
const libgreet: DebSpec = {
  name: 'libgreet',
  version: '2.1-3',
  files: [{ path: '/usr/lib/greet', content: 'g\n' }],
};
const newerHello: DebSpec = { ...hello, version: '1.1-1' };
const pins = { hello: '1.0-1', libgreet: '2.1-3' };

describe('builds and the package pool', () => {
  it('records every package used, then rebuilds from the pool after the archive dropped one', async () => {
    const work = await tmpdir();
    const pool = createPool(path.join(work, 'pool'));
    const before = await serveArchive([hello, libgreet]);
    const first = await buildTemplate({
      manifest: fixtureManifest({ packages: pins }),
      source: await before.source(),
      pool,
      out: path.join(work, 'first'),
      mode: 'chrootless',
    });
    expect(first.pooled).toBe(2);
    const entries = await pool.entries();
    expect(entries.map((e) => `${e.name} ${e.version} ${e.firstUsedBy}`)).toEqual([
      'hello 1.0-1 cernvm-system-1.0.0',
      'libgreet 2.1-3 cernvm-system-1.0.0',
    ]);
    expect(entries.map((e) => e.origin)).toEqual([
      `${before.url} stable/main`,
      `${before.url} stable/main`,
    ]);
    expect(entries.map((e) => e.sha256)).toEqual(first.packages.map((p) => p.sha256));

    // The archive moved on to hello 1.1-1: version 1.0.0 can no longer be built from it alone...
    // (libgreet is the very same file: a rebuild with the same version would be refused.)
    const after = await serveArchive([newerHello], [before.repo.debs.get('libgreet') ?? '']);
    const error: unknown = await buildTemplate({
      manifest: fixtureManifest({ packages: pins }),
      source: await after.source(),
      out: path.join(work, 'without-pool'),
      mode: 'chrootless',
    }).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'PACKAGE_MISSING')).toBe(true);

    // ...but with the pool as fallback it builds, and gives the same tree.
    const second = await buildTemplate({
      manifest: fixtureManifest({ packages: pins }),
      source: createFallbackSource(await after.source(), pool.source()),
      pool,
      out: path.join(work, 'second'),
      mode: 'chrootless',
    });
    expect(second.pooled).toBe(0);
    expect(second.packages.find((p) => p.name === 'hello')?.origin).toBe(`pool ${pool.dir}`);
    expect(second.packages.find((p) => p.name === 'libgreet')?.origin).toBe(
      `${after.url} stable/main`,
    );
    expect((await readInstalledPackages(second.out)).map((p) => `${p.name}=${p.version}`)).toEqual([
      'cernvm-system=1.0.0',
      'hello=1.0-1',
      'libgreet=2.1-3',
    ]);
    expect(await describeTree(second.out)).toEqual(await describeTree(first.out));
  });

  it('refuses, before building, a package the pool holds with other content', async () => {
    const work = await tmpdir();
    const pool = createPool(path.join(work, 'pool'));
    const before = await serveArchive([hello, libgreet]);
    const manifest = fixtureManifest({ packages: pins });
    const out = path.join(work, 'tree');
    await buildTemplate({ manifest, source: await before.source(), pool, out, mode: 'chrootless' });
    // Same names and versions, rebuilt with other content: other bytes (never a matter of
    // which second the packages were built in).
    const rebuilt = await serveArchive([
      {
        ...hello,
        files: [{ path: '/usr/bin/hello', content: '#!/bin/sh\necho hi\n', mode: 0o755 }],
      },
      { ...libgreet, files: [{ path: '/usr/lib/greet', content: 'h\n' }] },
    ]);
    const error: unknown = await buildTemplate({
      manifest,
      source: await rebuilt.source(),
      pool,
      out: path.join(work, 'again'),
      mode: 'chrootless',
    }).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'PACKAGE_VERIFY')).toBe(true);
    expect((error as Error).message).toContain('2 packages with other content');
    expect((await pool.entries()).map((e) => e.origin)).toEqual([
      `${before.url} stable/main`,
      `${before.url} stable/main`,
    ]);
  });
});
