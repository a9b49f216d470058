import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTemplate, readInstalledPackages } from '../../src/template/index.js';
import { mountsUnder } from '../../src/reproducible/safe-remove.js';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import type { PackageSource } from '../../src/packages/package-source.js';
import type { DebSpec } from '../helpers/deb-fixtures.js';
import { tmpdir } from '../helpers/tmp.js';
import { fixtureManifest, serveArchive } from './fixtures.js';

/** No maintainer scripts that need a shell in the tree: these install in chrootless mode. */
const packages: DebSpec[] = [
  {
    name: 'hello',
    version: '1.0-1',
    depends: 'libgreet (>= 2)',
    files: [{ path: '/usr/bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 }],
  },
  { name: 'hello', version: '0.9-1' },
  {
    name: 'libgreet',
    version: '2.1-3',
    files: [{ path: '/usr/lib/libgreet.txt', content: 'greet\n' }],
  },
  { name: 'rival', version: '1.0', conflicts: 'hello' },
  { name: 'broken', version: '1.0', postinst: 'exit 3' },
];
const pins = { hello: '1.0-1', libgreet: '2.1-3' };

async function failure(promise: Promise<unknown>): Promise<UcvmError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isUcvmError(error)) throw new Error(`expected a UcvmError, got ${String(error)}`);
  return error;
}

async function attempt(source: PackageSource, packagePins: Record<string, string>) {
  const work = await tmpdir();
  const out = path.join(work, 'tree');
  const error = await failure(
    buildTemplate({
      manifest: fixtureManifest({ packages: packagePins }),
      source,
      out,
      mode: 'chrootless',
    }),
  );
  // No tree, no half-built staging directory next to it, nothing left mounted.
  expect(await readdir(work)).toEqual([]);
  expect(await mountsUnder(work)).toEqual([]);
  return error;
}

describe('buildTemplate in chrootless mode', () => {
  it('installs a set without maintainer scripts using the machine dpkg', async () => {
    const archive = await serveArchive(packages);
    const out = path.join(await tmpdir(), 'tree');
    const result = await buildTemplate({
      manifest: fixtureManifest({ packages: pins }),
      source: await archive.source(),
      out,
      mode: 'chrootless',
    });
    expect(result.packages.map((p) => p.name)).toEqual(['hello', 'libgreet']);
    expect((await readInstalledPackages(out)).map((p) => `${p.name}=${p.version}`)).toEqual([
      'cernvm-system=1.0.0',
      'hello=1.0-1',
      'libgreet=2.1-3',
    ]);
    expect((await stat(path.join(out, 'usr/bin/hello'))).mode & 0o777).toBe(0o755);
  });
});

describe('buildTemplate refuses a set that is not closed, before building anything', () => {
  it('names a pinned package the source does not have', async () => {
    const archive = await serveArchive(packages);
    const error = await attempt(await archive.source(), { ...pins, 'no-such-tool': '1.0' });
    expect(error.code).toBe('PACKAGE_MISSING');
    expect(error.message).toContain('no-such-tool 1.0');
  });

  it('names a pinned version the source does not have, with the versions it has', async () => {
    const archive = await serveArchive(packages);
    const error = await attempt(await archive.source(), { ...pins, hello: '2.0-1' });
    expect(error.code).toBe('PACKAGE_MISSING');
    expect(error.message).toContain('hello 2.0-1');
    expect(error.details).toContain('0.9-1');
  });

  it('lists an unsatisfied dependency', async () => {
    const archive = await serveArchive(packages);
    const error = await attempt(await archive.source(), { hello: '1.0-1' });
    expect(error.code).toBe('PACKAGE_CLOSURE');
    expect(error.details).toMatch(/^hello 1\.0-1: Depends libgreet \(>= 2\) not satisfied/m);
  });

  it('lists a conflict', async () => {
    const archive = await serveArchive(packages);
    const error = await attempt(await archive.source(), { ...pins, rival: '1.0' });
    expect(error.code).toBe('PACKAGE_CLOSURE');
    expect(error.details).toMatch(/^rival 1\.0: Conflicts hello violated by hello 1\.0-1/m);
  });
});

describe('buildTemplate checks every package file', () => {
  it('fails when the archive serves a file that does not match its signed index', async () => {
    const archive = await serveArchive(packages);
    const served = archive.repo.debs.get('libgreet') ?? '';
    const { size } = await stat(served);
    await writeFile(served, Buffer.alloc(size, 0x41));
    const error = await attempt(await archive.source(), pins);
    expect(error.code).toBe('PACKAGE_VERIFY');
    expect(error.message).toContain('libgreet');
  });

  it('fails when a cached file was damaged after it was verified', async () => {
    const archive = await serveArchive(packages);
    const cacheDir = await tmpdir();
    const source = await archive.source(cacheDir);
    const record = (await source.index()).find('libgreet', '2.1-3');
    if (record === undefined) throw new Error('libgreet missing from the index');
    const cached = await source.fetch(record);
    // Same size: the apt cache only checks sizes on reuse; the build hashes again.
    await writeFile(cached, Buffer.alloc(record.size, 0x42));
    const error = await attempt(await archive.source(cacheDir), pins);
    expect(error.code).toBe('PACKAGE_VERIFY');
    expect(error.message).toContain('libgreet 2.1-3');
  });
});

describe('buildTemplate failures after the closure check', () => {
  it('reports a failing maintainer script as BUILD_FAILED and leaves no tree', async () => {
    const archive = await serveArchive(packages);
    const error = await attempt(await archive.source(), { ...pins, broken: '1.0' });
    expect(error.code).toBe('BUILD_FAILED');
    expect(error.details).toContain('broken');
  });

  it('refuses an output directory that is not empty', async () => {
    const archive = await serveArchive(packages);
    const out = await tmpdir({ 'old-file': 'x' });
    const error = await failure(
      buildTemplate({
        manifest: fixtureManifest({ packages: pins }),
        source: await archive.source(),
        out,
        mode: 'chrootless',
      }),
    );
    expect(error.code).toBe('USAGE');
    expect(await readdir(out)).toEqual(['old-file']);
  });
});
