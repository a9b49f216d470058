import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { registerBuildCommand } from '../../src/cli/commands/build.js';
import { reportFailure } from '../../src/cli/output.js';
import { decodeProvenance } from '../../src/reconcile/provenance.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import type { DebSpec } from '../helpers/deb-fixtures.js';
import { makeRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';
import { serveArchive } from './fixtures.js';

const packages: DebSpec[] = [
  {
    name: 'hello',
    version: '1.0-1',
    depends: 'libgreet',
    files: [{ path: '/usr/bin/hello', content: 'hi\n', mode: 0o755 }],
  },
  { name: 'libgreet', version: '2.1-3' },
];

const manifestText = `# yaml-language-server: $schema=../schemas/manifest.schema.json
channel: testing
system:
  name: cernvm-system
  version: 1.2.0
  description: CernVM 1.2 test
base:
  distribution: debian
  suite: stable
  architecture: amd64
packages:
  hello: 1.0-1
  libgreet: 2.1-3
files:
  - path: /etc/motd
    source: os/motd
`;

/** A git repository with the manifest and a machine root whose apt sources name the archive. */
async function project(text = manifestText) {
  const archive = await serveArchive(packages);
  const root = await tmpdir({ 'manifests/testing.yaml': text, 'os/motd': 'Welcome\n' });
  const aptRoot = await tmpdir();
  await mkdir(path.join(aptRoot, 'etc/apt/sources.list.d'), { recursive: true });
  await copyFile(archive.repo.keyring, path.join(aptRoot, 'archive.gpg'));
  await writeFile(
    path.join(aptRoot, 'etc/apt/sources.list.d/test.sources'),
    `Types: deb\nURIs: ${archive.url}\nSuites: stable\nComponents: main\nSigned-By: /archive.gpg\n`,
  );
  const common = [
    '--root',
    root,
    '--apt-root',
    aptRoot,
    '--cache',
    await tmpdir(),
    '--mode',
    'chrootless',
  ];
  return { root, common };
}

/** Runs `ucvm <args>` in-process the way main.ts does; returns stdout, stderr and the exit status. */
async function ucvm(args: readonly string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => err.push(String(chunk)) > 0);
  onTestFinished(() => {
    stdout.mockRestore();
    stderr.mockRestore();
  });
  const program = new Command().name('ucvm').exitOverride();
  registerBuildCommand(program);
  let status = 0;
  try {
    await program.parseAsync(['node', 'ucvm', ...args]);
  } catch (error) {
    status = reportFailure(error, false);
  }
  stdout.mockRestore();
  stderr.mockRestore();
  return { stdout: out.join(''), stderr: err.join(''), status };
}

describe('ucvm build', () => {
  it('builds manifests/<channel>.yaml into --out and keeps the packages in --pool', async () => {
    const { common } = await project();
    const work = await tmpdir();
    const out = path.join(work, 'tree');
    const result = await ucvm([
      'build',
      'testing',
      '--out',
      out,
      '--pool',
      path.join(work, 'pool'),
      '--json',
      ...common,
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout) as {
      channel: string;
      build: { tag: string; out: string; pooled: number };
    };
    expect(json.channel).toBe('testing');
    expect(json.build).toMatchObject({ tag: 'cernvm-system-1.2.0', out, pooled: 2 });
    expect((await readdir(out)).sort()).toContain('.installed_cernvm-system-1.2.0');
    expect((await readdir(path.join(work, 'pool/debs'))).sort()).toEqual([
      'hello_1.0-1_amd64.deb',
      'libgreet_2.1-3_amd64.deb',
    ]);
  });

  it('publishes the tree as <name>-<version> with the description, and again as unchanged', async () => {
    const { common } = await project();
    const repo = await makeRepo();
    const publish = [
      'build',
      'testing',
      '--publish',
      repo.storage,
      '--keys',
      repo.keys,
      '--spool',
      repo.spool,
      ...common,
    ];
    const before = (await readdir(os.tmpdir())).filter((name) => name.startsWith('ucvm-tree-'));
    const first = await ucvm(publish);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(
      /^built cernvm-system-1\.2\.0 for channel testing: 2 packages \+ cernvm-system 1\.2\.0$/m,
    );
    expect(first.stdout).toMatch(
      /^published test\.example\.org revision 2 as cernvm-system-1\.2\.0/m,
    );
    const repository = await Repository.open(directorySource(repo.storage));
    onTestFinished(() => repository.close());
    const tag = (await repository.tags()).find((t) => t.name === 'cernvm-system-1.2.0');
    // The tag carries the version's provenance: its identity, readable without keys.
    const provenance = decodeProvenance(tag?.description ?? '');
    expect(provenance).toMatchObject({ ucvm: 1, version: '1.2.0', summary: 'CernVM 1.2 test' });
    expect(provenance?.identity).toMatch(/^sha256:[0-9a-f]{64}$/);
    const snapshot = await repository.snapshot('cernvm-system-1.2.0');
    expect((await snapshot.readFile('/etc/motd')).toString()).toBe('Welcome\n');
    expect((await snapshot.readFile('/.installed_cernvm-system-1.2.0')).toString()).toBe(
      'CernVM system 1.2.0\nCernVM 1.2 test\n',
    );
    // The temporary tree is gone.
    expect((await readdir(os.tmpdir())).filter((name) => name.startsWith('ucvm-tree-'))).toEqual(
      before,
    );

    // A reproducible build publishes the very same tree again: the immutable tag accepts it.
    const second = await ucvm(publish);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('cernvm-system-1.2.0 already holds exactly this tree');
  });

  it.each([
    ['neither --out nor --publish', [], 'USAGE', 2],
    ['an unknown --mode', ['--out', 'x', '--mode', 'fast'], 'USAGE', 2],
    ['a bad --source-date-epoch', ['--out', 'x', '--source-date-epoch', 'yesterday'], 'USAGE', 2],
  ])('rejects %s', async (_, extra, code, status) => {
    const { common } = await project();
    const result = await ucvm(['build', 'testing', ...common, ...extra]);
    expect(result.status).toBe(status);
    expect(result.stderr).toMatch(new RegExp(`^error ${code}: `));
  });

  it('reports every problem of an invalid manifest with its position', async () => {
    const { common } = await project(manifestText.replace('hello: 1.0-1', 'hello: ^1.0'));
    const result = await ucvm([
      'build',
      'testing',
      '--out',
      path.join(await tmpdir(), 'tree'),
      ...common,
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /^error MANIFEST_INVALID: manifests\/testing\.yaml:\d+:\d+ packages\.hello: /,
    );
  });

  it('names the missing manifest file', async () => {
    const { common } = await project();
    const result = await ucvm([
      'build',
      'production',
      '--out',
      path.join(await tmpdir(), 'tree'),
      ...common,
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('manifests/production.yaml');
    expect(result.stderr).toContain('file not found');
  });

  it('takes the packages from the pipeline sources when it names some (as ucvm lock does)', async () => {
    const archive = await serveArchive(packages);
    const root = await tmpdir({ 'manifests/testing.yaml': manifestText, 'os/motd': 'Welcome\n' });
    await copyFile(archive.repo.keyring, path.join(root, 'archive.gpg'));
    await mkdir(path.join(root, 'pipeline'));
    await writeFile(
      path.join(root, 'pipeline/pipeline.yaml'),
      `repositories:\n  - name: t.example.org\n    backend: embedded\n    storage: srv/t.example.org\n    keys: keys\nchannels:\n  testing: t.example.org\npromotion: [testing]\nsources:\n  - uri: ${archive.url}\n    suite: stable\n    keyring: archive.gpg\npool: pool\n`,
    );
    // A machine whose apt sources name nothing: only the pipeline's source can serve.
    const emptyMachine = await tmpdir();
    await mkdir(path.join(emptyMachine, 'etc/apt/sources.list.d'), { recursive: true });
    const out = path.join(await tmpdir(), 'tree');
    const result = await ucvm([
      'build',
      'testing',
      '--out',
      out,
      '--root',
      root,
      '--apt-root',
      emptyMachine,
      '--cache',
      await tmpdir(),
      '--mode',
      'chrootless',
    ]);
    expect(result.status, result.stderr).toBe(0);
    expect(await readdir(path.join(out, 'usr/bin'))).toContain('hello');
  });
});
