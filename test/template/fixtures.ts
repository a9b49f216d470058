import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { loadManifestText, type Manifest } from '../../src/manifest/index.js';
import { createAptSource, type AptSource } from '../../src/packages/apt/index.js';
import { buildAptRepo, sourceFor, type AptRepo } from '../helpers/apt-repo.js';
import type { DebSpec } from '../helpers/deb-fixtures.js';
import { serveDirectory } from '../helpers/http-server.js';
import { tmpdir } from '../helpers/tmp.js';
import { hostBaseName, hostBaseVersion } from './host-base.js';

/** Packages of the test archive: a small closed set, plus decoys that must never be installed. */
export const fixturePackages: DebSpec[] = [
  {
    name: 'hello',
    version: '1.0-1',
    depends: `libgreet (>= 2), greeter, ${hostBaseName}`,
    files: [
      { path: '/usr/bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 },
      { path: '/etc/hello.conf', content: 'greeting=hello\n' },
      { path: '/etc/motd', content: 'motd from the hello package\n' },
    ],
    // Runs inside the chroot with the fixture base's shell; leaves a state file and a log.
    postinst:
      'mkdir -p /var/lib/hello\necho configured > /var/lib/hello/state\necho installed > /var/log/hello.log',
  },
  { name: 'hello', version: '0.9-1', depends: hostBaseName },
  {
    name: 'libgreet',
    version: '2.1-3',
    provides: 'greeter',
    files: [{ path: '/usr/lib/libgreet.txt', content: 'greet library\n' }],
  },
  {
    name: 'greet-data',
    version: '2.1-3',
    architecture: 'all',
    files: [{ path: '/usr/share/greet/data.txt', content: 'data\n' }],
  },
  { name: 'unpinned-tool', version: '1.0', depends: 'hello' },
  { name: 'rival', version: '1.0', conflicts: 'hello' },
  { name: 'needs-missing', version: '1.0', depends: 'no-such-package' },
];

/** The closed pinned set of the fixtures (with the fixture base). */
export const fixturePins: Record<string, string> = {
  [hostBaseName]: hostBaseVersion,
  hello: '1.0-1',
  libgreet: '2.1-3',
  'greet-data': '2.1-3',
};

export interface ServedArchive {
  repo: AptRepo;
  url: string;
  /** A fresh apt source over the archive with its own cache. */
  source(cacheDir?: string): Promise<AptSource>;
}

/** Builds and serves a signed archive of `packages` plus prebuilt .deb files (copied as they are). */
export async function serveArchive(
  packages: readonly DebSpec[],
  prebuilt: readonly string[] = [],
): Promise<ServedArchive> {
  const dir = await tmpdir();
  const poolDir = path.join(dir, 'pool/main/prebuilt');
  await mkdir(poolDir, { recursive: true });
  for (const deb of prebuilt) await copyFile(deb, path.join(poolDir, path.basename(deb)));
  const repo = await buildAptRepo({ packages, dir });
  const server = await serveDirectory(repo.dir);
  onTestFinished(() => server.close());
  return {
    repo,
    url: server.url,
    async source(cacheDir) {
      return createAptSource({
        cacheDir: cacheDir ?? (await tmpdir()),
        architecture: repo.arch,
        sources: [sourceFor(repo, server.url)],
      });
    },
  };
}

/** A valid manifest pinning `packages`, with extra files as YAML lines (under `files:`). */
export function fixtureManifest(options: {
  packages?: Record<string, string>;
  version?: string;
  files?: string;
  description?: string;
}): Manifest {
  const pins = Object.entries(options.packages ?? fixturePins)
    .map(([name, version]) => `  ${name}: "${version}"`)
    .join('\n');
  const text = [
    'channel: testing',
    'system:',
    '  name: cernvm-system',
    `  version: ${options.version ?? '1.0.0'}`,
    `  description: ${options.description ?? 'CernVM test system'}`,
    'base:',
    '  distribution: debian',
    '  suite: stable',
    '  architecture: amd64',
    'packages:',
    pins,
    ...(options.files === undefined ? [] : ['files:', options.files]),
    '',
  ].join('\n');
  return loadManifestText(text, 'manifests/testing.yaml');
}

export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: string;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  sha256?: string;
  target?: string;
}

/** Every entry of a tree (the root as `/`), with content hashes and symlink targets, sorted. */
export async function describeTree(root: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  const visit = async (relative: string): Promise<void> => {
    const host = path.join(root, relative);
    const info = await lstat(host);
    const type = info.isFile()
      ? 'file'
      : info.isDirectory()
        ? 'dir'
        : info.isSymbolicLink()
          ? 'symlink'
          : 'other';
    const entry: TreeEntry = {
      path: `/${relative}`,
      type,
      mode: (info.mode & 0o7777).toString(8),
      uid: info.uid,
      gid: info.gid,
      size: type === 'dir' ? 0 : info.size,
      mtime: info.mtimeMs,
    };
    if (type === 'file')
      entry.sha256 = createHash('sha256')
        .update(await readFile(host))
        .digest('hex');
    if (type === 'symlink') entry.target = await readlink(host);
    entries.push(entry);
    if (type === 'dir') {
      for (const name of (await readdir(host)).sort())
        await visit(relative === '' ? name : `${relative}/${name}`);
    }
  };
  await visit('');
  return entries;
}
