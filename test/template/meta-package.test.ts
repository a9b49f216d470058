import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  buildMetaPackage,
  debBuildTime,
  debianVersionOfRelease,
  installedSetProblems,
  sourceDateEpochOfPackages,
} from '../../src/template/index.js';
import { run, runBinary } from '../../src/exec/index.js';
import { tmpdir } from '../helpers/tmp.js';
import { buildDeb } from '../helpers/deb-fixtures.js';
import { fixtureManifest } from './fixtures.js';

const pins = { bash: '5.2.15-2+b2', libc6: '2.36-9+deb12u4', 'base-files': '1:12.4+deb12u5' };
const epoch = 1_700_000_000;

describe('the cernvm-system meta package', () => {
  it('pins every package with = and installs /.installed_<name>-<version>', async () => {
    const manifest = fixtureManifest({
      packages: pins,
      version: '5.1.0',
      description: 'CernVM 5.1 on bookworm',
    });
    const meta = await buildMetaPackage({
      manifest,
      outDir: await tmpdir(),
      sourceDateEpoch: epoch,
    });
    expect(path.basename(meta.path)).toBe('cernvm-system_5.1.0_all.deb');
    const field = async (name: string) =>
      (await run('dpkg-deb', ['--field', meta.path, name])).stdout.trim();
    expect(await field('Package')).toBe('cernvm-system');
    expect(await field('Version')).toBe('5.1.0');
    expect(await field('Architecture')).toBe('all');
    expect(await field('Depends')).toBe(
      'base-files (= 1:12.4+deb12u5), bash (= 5.2.15-2+b2), libc6 (= 2.36-9+deb12u4)',
    );
    expect((await field('Description')).split('\n')[0]).toBe('CernVM 5.1 on bookworm');

    const contents = (await run('dpkg-deb', ['--contents', meta.path])).stdout.trim().split('\n');
    expect(
      contents.map((line) =>
        line.split(/\s+/).slice(0, 2).concat(line.split(/\s+/).slice(-1)).join(' '),
      ),
    ).toEqual(['drwxr-xr-x root/root ./', '-rw-r--r-- root/root ./.installed_cernvm-system-5.1.0']);
    const unpacked = await tmpdir();
    await run('dpkg-deb', ['--extract', meta.path, unpacked]);
    expect(await readFile(path.join(unpacked, '.installed_cernvm-system-5.1.0'), 'utf8')).toBe(
      'CernVM system 5.1.0\nCernVM 5.1 on bookworm\n',
    );
    // Every time in the package is SOURCE_DATE_EPOCH.
    expect(await debBuildTime(meta.path)).toBe(epoch);
    const listing = (
      await run('tar', ['-tvf', '-', '--full-time'], {
        input: await runBinary('dpkg-deb', ['--fsys-tarfile', meta.path]),
      })
    ).stdout;
    expect(listing).toContain('2023-11-14 22:13:20');
  });

  it('is the same bytes for the same manifest, and differs when a pin changes', async () => {
    const manifest = fixtureManifest({ packages: pins });
    const one = await buildMetaPackage({
      manifest,
      outDir: await tmpdir(),
      sourceDateEpoch: epoch,
    });
    const two = await buildMetaPackage({
      manifest,
      outDir: await tmpdir(),
      sourceDateEpoch: epoch,
    });
    expect((await readFile(two.path)).equals(await readFile(one.path))).toBe(true);
    const changed = fixtureManifest({ packages: { ...pins, bash: '5.2.15-2+b7' } });
    const three = await buildMetaPackage({
      manifest: changed,
      outDir: await tmpdir(),
      sourceDateEpoch: epoch,
    });
    expect((await readFile(three.path)).equals(await readFile(one.path))).toBe(false);
  });

  it.each([
    ['5.1.0', '5.1.0'],
    ['5.1.0-rc.1', '5.1.0~rc.1'],
    ['5.1.0-alpha-2', '5.1.0~alpha-2'],
  ])('uses %s as Debian version %s, ordered like semver', async (release, debian) => {
    expect(debianVersionOfRelease(release)).toBe(debian);
    const below = await run(
      'dpkg',
      ['--compare-versions', debianVersionOfRelease(release), 'le', '5.1.0'],
      { okExitCodes: [0, 1] },
    );
    expect(below.exitCode).toBe(0);
  });
});

describe('SOURCE_DATE_EPOCH of a build', () => {
  it('is the newest build time of the packages, read from their ar headers', async () => {
    const dir = await tmpdir();
    // dpkg-deb writes SOURCE_DATE_EPOCH into the ar header: a known time, not the clock.
    vi.stubEnv('SOURCE_DATE_EPOCH', String(epoch + 1000));
    const old = await buildDeb({ name: 'old', version: '1' }, dir);
    vi.unstubAllEnvs();
    const meta = await buildMetaPackage({
      manifest: fixtureManifest({ packages: pins }),
      outDir: dir,
      sourceDateEpoch: epoch,
    });
    const oldTime = await debBuildTime(old);
    expect(oldTime).toBe(epoch + 1000);
    expect(await sourceDateEpochOfPackages([meta.path, old])).toBe(oldTime);
    expect(await sourceDateEpochOfPackages([meta.path])).toBe(epoch);
  });
});

describe('installedSetProblems', () => {
  const expected = new Map([
    ['hello', '1.0-1'],
    ['libgreet', '2.1-3'],
  ]);
  const pkg = (name: string, version: string, status = 'ii ') => ({
    name,
    version,
    architecture: 'amd64',
    status,
  });

  it.each([
    [
      'nothing when equal (an explicit 0: epoch is the same version)',
      [pkg('hello', '0:1.0-1'), pkg('libgreet', '2.1-3')],
      [],
    ],
    [
      'an extra package',
      [pkg('hello', '1.0-1'), pkg('libgreet', '2.1-3'), pkg('unpinned', '1')],
      ['extra: unpinned 1 is installed but not pinned'],
    ],
    [
      'a missing package',
      [pkg('hello', '1.0-1')],
      ['missing: libgreet 2.1-3 is pinned but not installed'],
    ],
    [
      'another version',
      [pkg('hello', '1.1-1'), pkg('libgreet', '2.1-3')],
      ['version: hello 1.1-1 is installed, 1.0-1 is pinned'],
    ],
    [
      'a half-installed package',
      [pkg('hello', '1.0-1', 'iF '), pkg('libgreet', '2.1-3')],
      ['state: hello 1.0-1 is not fully installed (dpkg status "iF")'],
    ],
  ])('reports %s', (_, installed, problems) => {
    expect(installedSetProblems(expected, installed)).toEqual(problems);
  });
});
