import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadPublicKey } from '../../src/keys/index.js';
import type { Channel } from '../../src/manifest/schema.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import type { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { buildAptRepo, type AptRepo } from '../helpers/apt-repo.js';
import { startUcvm, type CliResult } from '../helpers/cli.js';
import type { DebSpec } from '../helpers/deb-fixtures.js';
import { serveDirectory, type StaticServer } from '../helpers/http-server.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

export const channels: Channel[] = ['development', 'testing', 'production'];

export const fqrns: Record<Channel, string> = {
  development: 'dev.rc.example.org',
  testing: 'test.rc.example.org',
  production: 'prod.rc.example.org',
};

/** hello 1.0-1, 1.1-1 and the security fix 1.1-2; libgreet that it needs. */
export const archivePackages: DebSpec[] = [
  {
    name: 'hello',
    version: '1.0-1',
    depends: 'libgreet',
    files: [{ path: '/usr/bin/hello', content: '#!/bin/sh\necho hello 1.0\n', mode: 0o755 }],
  },
  {
    name: 'hello',
    version: '1.1-1',
    depends: 'libgreet',
    files: [{ path: '/usr/bin/hello', content: '#!/bin/sh\necho hello 1.1\n', mode: 0o755 }],
  },
  {
    name: 'hello',
    version: '1.1-2',
    depends: 'libgreet',
    files: [{ path: '/usr/bin/hello', content: '#!/bin/sh\necho hello 1.1, fixed\n', mode: 0o755 }],
  },
  {
    name: 'libgreet',
    version: '2.1-3',
    files: [{ path: '/usr/share/greet/words.txt', content: 'hello\nworld\n'.repeat(200) }],
  },
];

export interface Archive {
  repo: AptRepo;
  server: StaticServer;
  /** A machine root whose apt sources name only the archive. */
  aptRoot: string;
  dir: string;
  close(): Promise<void>;
}

/** A signed apt archive served on 127.0.0.1 (for beforeAll: removed by `close`). */
export async function startArchive(): Promise<Archive> {
  const dir = await makeTempDir('ucvm-archive-');
  const repo = await buildAptRepo({ packages: archivePackages, dir: path.join(dir, 'archive') });
  const server = await serveDirectory(repo.dir);
  const aptRoot = path.join(dir, 'apt-root');
  mkdirSync(path.join(aptRoot, 'etc/apt/sources.list.d'), { recursive: true });
  copyFileSync(repo.keyring, path.join(aptRoot, 'archive.gpg'));
  writeFileSync(
    path.join(aptRoot, 'etc/apt/sources.list.d/test.sources'),
    `Types: deb\nURIs: ${server.url}\nSuites: stable\nComponents: main\nSigned-By: /archive.gpg\n`,
  );
  return {
    repo,
    server,
    aptRoot,
    dir,
    close: async () => {
      await server.close();
      await removeDir(dir);
    },
  };
}

export function manifestText(channel: Channel, version: string, hello: string, extra = ''): string {
  return `# The ${channel} channel (test fixture).
channel: ${channel}
system:
  name: cernvm-system
  version: ${version}
  description: CernVM ${version} test
base:
  distribution: debian
  suite: stable
  architecture: amd64
# The packages asked for.
install:
  - hello
packages:
  hello: ${hello}
  libgreet: 2.1-3
files:
  - path: /etc/motd
    content: |
      Welcome to CernVM (test).
${extra}`;
}

export interface PipelineOptions {
  gates?: string;
}

/** A git repository with manifests and pipeline, keys beside it; repositories not created yet. */
export function makeProject(
  base: string,
  versions: Record<Channel, [string, string]>,
  options: PipelineOptions = {},
) {
  const root = path.join(base, 'project');
  const keys = path.join(base, 'keys');
  mkdirSync(path.join(root, 'manifests'), { recursive: true });
  mkdirSync(path.join(root, 'pipeline'));
  for (const channel of channels) {
    const [version, hello] = versions[channel];
    writeFileSync(
      path.join(root, 'manifests', `${channel}.yaml`),
      manifestText(channel, version, hello),
    );
  }
  writePipeline(root, keys, options);
  writeFileSync(path.join(root, '.gitignore'), '/srv/\n/pool/\n');
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'add', '.');
  git(root, 'commit', '-q', '-m', 'the pipeline');
  return { root, keys };
}

export function writePipeline(root: string, keys: string, options: PipelineOptions = {}): void {
  const repositories = channels
    .map(
      (channel) =>
        `  - name: ${fqrns[channel]}\n    backend: embedded\n    storage: srv/${fqrns[channel]}\n    keys: ${keys}\n`,
    )
    .join('');
  writeFileSync(
    path.join(root, 'pipeline', 'pipeline.yaml'),
    `repositories:\n${repositories}channels:\n${channels
      .map((channel) => `  ${channel}: ${fqrns[channel]}\n`)
      .join('')}promotion: [development, testing, production]\n${options.gates ?? ''}pool: pool\n`,
  );
}

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Alice Release',
  GIT_AUTHOR_EMAIL: 'alice@example.org',
  GIT_COMMITTER_NAME: 'Alice Release',
  GIT_COMMITTER_EMAIL: 'alice@example.org',
};

export function git(root: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: root, env: gitEnv, encoding: 'utf8' });
}

export function editManifest(root: string, channel: Channel, text: string): void {
  writeFileSync(path.join(root, 'manifests', `${channel}.yaml`), text);
}

export function commitAll(root: string, message: string): void {
  git(root, 'commit', '-q', '-a', '-m', message);
}

/** Runs the built CLI without blocking this process (the archive server lives here). */
export async function ucvmAsync(args: readonly string[], env: Record<string, string> = {}) {
  const result: CliResult = await startUcvm(args, {
    GIT_AUTHOR_NAME: 'Alice Release',
    GIT_AUTHOR_EMAIL: 'alice@example.org',
    GIT_COMMITTER_NAME: 'Alice Release',
    GIT_COMMITTER_EMAIL: 'alice@example.org',
    ...env,
  }).done;
  return result;
}

export function storageOf(root: string, channel: Channel): string {
  return path.join(root, 'srv', fqrns[channel]);
}

export async function openChannel(
  root: string,
  keys: string,
  channel: Channel,
): Promise<Repository> {
  return openVerifiedRepository(directorySource(storageOf(root, channel)), {
    masterKeys: [await loadPublicKey(path.join(keys, `${fqrns[channel]}.pub`))],
    fqrn: fqrns[channel],
  });
}

/** The root hash a tag of a channel's repository holds. */
export async function tagRoot(
  root: string,
  keys: string,
  channel: Channel,
  tag: string,
): Promise<string | undefined> {
  const repository = await openChannel(root, keys, channel);
  try {
    return (await repository.tags()).find((candidate) => candidate.name === tag)?.hashHex;
  } finally {
    repository.close();
  }
}

export async function verifyProblems(
  root: string,
  keys: string,
  channel: Channel,
): Promise<string[]> {
  const repository = await openChannel(root, keys, channel);
  try {
    return (
      await verifyRepository(repository, {
        masterKeys: [await loadPublicKey(path.join(keys, `${fqrns[channel]}.pub`))],
        now: new Date(),
        fqrn: fqrns[channel],
      })
    ).problems;
  } finally {
    repository.close();
  }
}

export function publishedManifest(root: string, channel: Channel): Buffer {
  return readFileSync(path.join(storageOf(root, channel), '.cvmfspublished'));
}

/** `ucvm reconcile` against the fixture archive, with the apt cache and spool under `base`. */
export function reconcileArgs(
  root: string,
  archive: Archive,
  base: string,
  ...more: string[]
): string[] {
  return [
    'reconcile',
    '--root',
    root,
    '--apt-root',
    archive.aptRoot,
    '--cache',
    path.join(base, 'apt-cache'),
    '--spool',
    path.join(base, 'spool'),
    '--mode',
    'chrootless',
    '--json',
    ...more,
  ];
}
