import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTemplate,
  readInstalledPackages,
  type TemplateBuild,
} from '../../src/template/index.js';
import { sourcesListText } from '../../src/template/reproducible.js';
import { run } from '../../src/exec/index.js';
import { makeTempDir, removeDir, tmpdir } from '../helpers/tmp.js';
import {
  describeTree,
  fixtureManifest,
  fixturePackages,
  fixturePins,
  serveArchive,
  type ServedArchive,
} from './fixtures.js';
import { buildHostBase, hostBaseProblem } from './host-base.js';

const problem = hostBaseProblem();

describe.skipIf(problem !== undefined)(
  `buildTemplate in root mode${problem === undefined ? '' : ` (skipped: ${problem})`}`,
  () => {
    let baseDir: string;
    let baseDeb: string;

    beforeAll(async () => {
      baseDir = await makeTempDir('ucvm-base-');
      baseDeb = await buildHostBase(baseDir);
    });
    afterAll(() => removeDir(baseDir));

    const extraFiles = [
      '  - path: /etc/motd',
      '    content: "Welcome to CernVM\\n"',
      '  - path: /opt/ucvm/bootstrap.sh',
      '    source: os/bootstrap.sh',
      '    mode: "0750"',
    ].join('\n');

    async function build(
      archive: ServedArchive,
      out: string,
      filesRoot: string,
    ): Promise<TemplateBuild> {
      return buildTemplate({
        manifest: fixtureManifest({ files: extraFiles }),
        source: await archive.source(),
        out,
        filesRoot,
        mode: 'root',
      });
    }

    it('installs exactly the pinned set plus the meta package, with the extra files', async () => {
      const archive = await serveArchive(fixturePackages, [baseDeb]);
      const work = await tmpdir({ 'git/os/bootstrap.sh': '#!/bin/sh\necho boot\n' });
      const out = path.join(work, 'tree');
      const result = await build(archive, out, path.join(work, 'git'));

      expect(result.tag).toBe('cernvm-system-1.0.0');
      expect(result.packages.map((p) => `${p.name}=${p.version}`)).toEqual([
        'fixture-base=1.0',
        'greet-data=2.1-3',
        'hello=1.0-1',
        'libgreet=2.1-3',
      ]);
      const installed = await readInstalledPackages(out);
      expect(installed.map((p) => `${p.name}=${p.version}:${p.status}`)).toEqual([
        'cernvm-system=1.0.0:ii ',
        'fixture-base=1.0:ii ',
        'greet-data=2.1-3:ii ',
        'hello=1.0-1:ii ',
        'libgreet=2.1-3:ii ',
      ]);
      // The maintainer script ran inside the chroot; its log was removed afterwards.
      expect(await readFile(path.join(out, 'var/lib/hello/state'), 'utf8')).toBe('configured\n');
      await expect(lstat(path.join(out, 'var/log/hello.log'))).rejects.toThrow(/ENOENT/);
      expect(await readFile(path.join(out, '.installed_cernvm-system-1.0.0'), 'utf8')).toBe(
        'CernVM system 1.0.0\nCernVM test system\n',
      );
      // Extra files: content replaces the package's /etc/motd; source is read from the repository.
      expect(await readFile(path.join(out, 'etc/motd'), 'utf8')).toBe('Welcome to CernVM\n');
      const bootstrap = await lstat(path.join(out, 'opt/ucvm/bootstrap.sh'));
      expect(bootstrap.mode & 0o7777).toBe(0o750);
      expect(bootstrap.mtimeMs).toBe(result.sourceDateEpoch * 1000);
      expect(await readFile(path.join(out, 'opt/ucvm/bootstrap.sh'), 'utf8')).toBe(
        '#!/bin/sh\necho boot\n',
      );
      // Nothing of the build machine or the private repository is left behind.
      expect(await readFile(path.join(out, 'etc/apt/sources.list'), 'utf8')).toBe(sourcesListText);
      expect(await readdir(path.join(out, 'dev'))).toEqual([]);
      expect(await readdir(path.join(out, 'var/lib/apt/lists'))).not.toContain('lock');
      await expect(lstat(path.join(out, 'etc/resolv.conf'))).rejects.toThrow(/ENOENT/);
      const debs = (await readdir(path.join(out, 'var/cache/apt/archives'))).filter((n) =>
        n.endsWith('.deb'),
      );
      expect(debs).toEqual([]);
      // No mtime is newer than SOURCE_DATE_EPOCH.
      const newer = (await describeTree(out)).filter(
        (entry) => entry.mtime > result.sourceDateEpoch * 1000,
      );
      expect(newer).toEqual([]);
      expect(await readdir(work)).toEqual(['git', 'tree']);
    });

    it('builds the same tree twice: paths, types, modes, owners, sizes, contents, mtimes, links', async () => {
      const archive = await serveArchive(fixturePackages, [baseDeb]);
      const work = await tmpdir({ 'git/os/bootstrap.sh': '#!/bin/sh\necho boot\n' });
      const first = await build(archive, path.join(work, 'one'), path.join(work, 'git'));
      // A second apt cache: nothing is shared between the two builds but the archive.
      const second = await buildTemplate({
        manifest: fixtureManifest({ files: extraFiles }),
        source: await archive.source(),
        out: path.join(work, 'two'),
        filesRoot: path.join(work, 'git'),
        mode: 'root',
      });
      expect(second.sourceDateEpoch).toBe(first.sourceDateEpoch);
      expect(second.meta).toEqual(first.meta);
      const one = await describeTree(first.out);
      const two = await describeTree(second.out);
      expect(one.length).toBeGreaterThan(40);
      expect(two).toEqual(one);
      // An independent check of contents: GNU diff over both trees, symlinks not followed.
      await run('diff', ['-r', '--no-dereference', first.out, second.out]);
    });

    it("records the system in the tree's own dpkg database: the meta package and its = pins", async () => {
      const archive = await serveArchive(fixturePackages, [baseDeb]);
      const out = path.join(await tmpdir(), 'tree');
      await buildTemplate({
        manifest: fixtureManifest({}),
        source: await archive.source(),
        out,
        mode: 'root',
      });
      const { stdout } = await run('dpkg-query', [
        `--admindir=${path.join(out, 'var/lib/dpkg')}`,
        '--show',
        '--showformat=${Package} ${Version} ${Depends}\n',
        'cernvm-system',
      ]);
      const pins = Object.entries(fixturePins)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, version]) => `${name} (= ${version})`);
      expect(stdout).toBe(`cernvm-system 1.0.0 ${pins.join(', ')}\n`);
      // dpkg inside the tree agrees: cleaning and clamping changed no file a package ships.
      const verify = await run('chroot', [out, 'dpkg', '--verify']);
      expect(verify.stdout).toBe('');
    });
  },
);
