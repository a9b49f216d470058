import { readFile } from 'node:fs/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import { lockManifest, type LockOptions } from '../../src/lock/index.js';
import { silentLogger } from '../../src/log.js';
import { validateManifestText } from '../../src/manifest/index.js';
import { buildAptRepo, sourceFor } from '../helpers/apt-repo.js';
import { serveDirectory } from '../helpers/http-server.js';
import { archiveV1, archiveV2, draftManifest, project, servedArchive } from './fixtures.js';

async function setup(text = draftManifest, packages = archiveV1) {
  const archive = await servedArchive(packages);
  const dirs = await project(text);
  const lock = (options: Partial<LockOptions> = {}) =>
    lockManifest({
      manifestPath: dirs.manifestPath,
      sources: [archive.source],
      stateDir: dirs.stateDir,
      aptCacheDir: dirs.aptCacheDir,
      ...options,
    });
  const read = () => readFile(dirs.manifestPath, 'utf8');
  return { archive, ...dirs, lock, read };
}

async function failure(promise: Promise<unknown>): Promise<UcvmError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isUcvmError(error)) throw new Error(`expected a UcvmError, got ${String(error)}`);
  return error;
}

function pinsOf(text: string): Record<string, string> {
  const { manifest, issues } = validateManifestText(text, 'manifests/development.yaml');
  expect(issues).toEqual([]);
  return manifest?.packages ?? {};
}

const closureV1 = {
  'base-files': '12.4',
  bash: '5.2.15-2',
  hello: '1.0-1',
  libc6: '2.36-9',
  libgreet: '2.1-1',
};

describe('lockManifest', () => {
  it('pins the roots and every Essential package, and writes them after install', async () => {
    const { lock, read } = await setup();
    const result = await lock();
    expect(result.packages).toEqual(closureV1);
    expect(result.install).toEqual(['hello']);
    expect(result.diff.added.map((pin) => pin.name)).toEqual(Object.keys(closureV1));
    expect(result).toMatchObject({ changed: true, written: true, released: {} });
    const text = await read();
    expect(pinsOf(text)).toEqual(closureV1);
    expect(text).toBe(
      draftManifest.replace(
        'files:\n',
        'packages:\n  base-files: "12.4"\n  bash: 5.2.15-2\n  hello: 1.0-1\n  libc6: 2.36-9\n  libgreet: 2.1-1\nfiles:\n',
      ),
    );
  });

  it('adds roots with their dependencies, choosing the provider of a virtual package', async () => {
    const { lock, read } = await setup();
    await lock();
    const result = await lock({ add: ['webapp'] });
    expect(result.install).toEqual(['hello', 'webapp']);
    expect(result.roots).toEqual({ added: ['webapp'], removed: [] });
    expect(result.diff.added).toEqual([
      { name: 'libweb', version: '1.2-1' },
      { name: 'tiny-mta', version: '0.5-1' },
      { name: 'webapp', version: '3.0-1' },
    ]);
    expect(await read()).toContain('install:\n  - hello # the greeting\n  - webapp\n');
  });

  it('removes roots, and the dependencies nothing else needs go with them', async () => {
    const { lock, read } = await setup();
    await lock({ add: ['webapp'] });
    const result = await lock({ remove: ['hello'] });
    expect(result.install).toEqual(['webapp']);
    expect(result.diff.removed).toEqual([
      { name: 'hello', version: '1.0-1' },
      { name: 'libgreet', version: '2.1-1' },
    ]);
    // libc6 stays: webapp's dependency needs it too.
    expect(Object.keys(pinsOf(await read()))).toEqual([
      'base-files',
      'bash',
      'libc6',
      'libweb',
      'tiny-mta',
      'webapp',
    ]);
    expect(await read()).not.toContain('# the greeting');
  });

  it('keeps pinned versions when newer ones appear, and --upgrade takes them', async () => {
    const { archive, lock, read } = await setup();
    await lock({ add: ['tool'] });
    expect(pinsOf(await read()).tool).toBe('1:0.9-1');
    const locked = await read();
    await archive.publish(archiveV2);

    const kept = await lock();
    expect(kept).toMatchObject({ changed: false, written: false });
    expect(await read()).toBe(locked);

    const upgraded = await lock({ upgrade: true });
    expect(upgraded.diff.upgraded).toEqual([
      { name: 'hello', from: '1.0-1', to: '1.1-1' },
      { name: 'libgreet', from: '2.1-1', to: '2.2-1' },
      { name: 'tool', from: '1:0.9-1', to: '1:1.0-1' },
    ]);
    expect(upgraded.diff.added).toEqual([]);
    expect(pinsOf(await read())).toMatchObject({ hello: '1.1-1', tool: '1:1.0-1' });
  });

  it('releases only the pins a new root needs newer', async () => {
    const { archive, lock } = await setup();
    await lock();
    await archive.publish(archiveV2);
    const result = await lock({ add: ['newtool'] });
    expect(result.released).toEqual({ libgreet: '2.1-1' });
    expect(result.diff.upgraded).toEqual([{ name: 'libgreet', from: '2.1-1', to: '2.2-1' }]);
    expect(result.packages.hello).toBe('1.0-1');
  });

  it('takes the archive version, with a warning, when a pinned version is gone', async () => {
    const { lock } = await setup();
    await lock();
    const without = archiveV2.filter((deb) => deb.name !== 'libgreet' || deb.version !== '2.1-1');
    const moved = await servedArchive(without);
    const warnings: unknown[] = [];
    const logger = {
      ...silentLogger,
      warn: (message: string, meta?: unknown) => warnings.push([message, meta]),
    };
    const result = await lock({ sources: [moved.source], logger });
    expect(result.diff.upgraded).toEqual([{ name: 'libgreet', from: '2.1-1', to: '2.2-1' }]);
    expect(result.packages.hello).toBe('1.0-1');
    expect(warnings).toEqual([
      [
        'pinned version is no longer in the sources',
        { package: 'libgreet', pinned: '2.1-1', now: '2.2-1' },
      ],
    ]);
  });

  it('names an unknown package and leaves the manifest unchanged', async () => {
    const { lock, read } = await setup();
    await lock();
    const before = await read();
    const error = await failure(lock({ add: ['no-such-package'] }));
    expect(error.code).toBe('PACKAGE_MISSING');
    expect(error.message).toContain('no-such-package');
    expect(error.details).toContain('Unable to locate package no-such-package');
    expect(await read()).toBe(before);
  });

  it('reports unsatisfiable dependencies with apt reason, file unchanged', async () => {
    const packages = [...archiveV1, { name: 'broken', version: '1.0-1', depends: 'libgone' }];
    const { lock, read } = await setup(draftManifest, packages);
    const error = await failure(lock({ add: ['broken'] }));
    expect(error.code).toBe('PACKAGE_CLOSURE');
    expect(error.message).toContain('broken');
    expect(error.details).toContain('broken : Depends: libgone but it is not installable');
    expect(await read()).toBe(draftManifest);
  });

  it('refuses an archive signed by another key', async () => {
    const repo = await buildAptRepo({ packages: archiveV1, suite: 'stable', sign: 'wrong-key' });
    const server = await serveDirectory(repo.dir);
    onTestFinished(() => server.close());
    const dirs = await project();
    const error = await failure(
      lockManifest({
        manifestPath: dirs.manifestPath,
        sources: [sourceFor(repo, server.url)],
        stateDir: dirs.stateDir,
        aptCacheDir: dirs.aptCacheDir,
      }),
    );
    expect(error.code).toBe('RELEASE_SIGNATURE');
    expect(await readFile(dirs.manifestPath, 'utf8')).toBe(draftManifest);
  });

  it('checks roots before asking apt', async () => {
    const { lock, read } = await setup();
    expect((await failure(lock({ remove: ['libc6'] }))).code).toBe('USAGE');
    expect((await failure(lock({ add: ['Not_A_Name'] }))).code).toBe('USAGE');
    expect((await failure(lock({ remove: ['hello'] }))).message).toBe('nothing to install');
    expect(await read()).toBe(draftManifest);
  });

  it('refuses pinned packages without an install list', async () => {
    const text = draftManifest.replace(
      /# What we asked[^]*?files:/,
      'packages:\n  hello: 1.0-1\nfiles:',
    );
    const { lock, read } = await setup(text);
    const error = await failure(lock());
    expect(error.code).toBe('MANIFEST_INVALID');
    expect(error.message).toContain('no install list');
    expect(await read()).toBe(text);
  });

  it('computes without writing on a dry run', async () => {
    const { lock, read } = await setup();
    const result = await lock({ dryRun: true });
    expect(result).toMatchObject({ changed: true, written: false });
    expect(result.diff.added).toHaveLength(5);
    expect(await read()).toBe(draftManifest);
  });
});

describe('writing back', () => {
  const handWritten = `# yaml-language-server: $schema=../schemas/manifest.schema.json
channel: development # the channel
system:
  name: cernvm-system
  version: 1.0.0
  changelog:
    - first   release
base: {distribution: debian, suite: stable, architecture: amd64}

install: [hello]  # roots
packages:
  # the Essential set
  base-files: '12.4'
  bash: "5.2.15-2" # essential
  hello: 1.0-1
  libc6: 2.36-9

  # greeting library
  libgreet: 2.1-1
files:
  - path: /etc/motd
    content: "Welcome\\n"
# end of file
`;

  it('leaves a locked file byte for byte as it was', async () => {
    const { lock, read } = await setup(handWritten);
    const result = await lock();
    expect(result).toMatchObject({ changed: false, written: false });
    expect(result.diff.added).toEqual([]);
    expect(await read()).toBe(handWritten);
  });

  it('changes only the versions that change, keeping comments and quoting', async () => {
    const { archive, lock, read } = await setup(handWritten);
    await archive.publish(archiveV2);
    await lock({ upgrade: true });
    const after = (await read()).split('\n');
    const before = handWritten.split('\n');
    const changed = after.filter((line) => !before.includes(line));
    expect(changed).toEqual(['  hello: 1.1-1', '  libgreet: 2.2-1']);
    for (const comment of [
      '# the Essential set',
      '# essential',
      '# greeting library',
      '# end of file',
      '# roots',
    ])
      expect(after.join('\n')).toContain(comment);
    const again = await read();
    expect((await lock()).changed).toBe(false);
    expect(await read()).toBe(again);
  });
});
