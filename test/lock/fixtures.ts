import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { buildAptRepo, sourceFor } from '../helpers/apt-repo.js';
import type { AptRepo } from '../helpers/apt-repo.js';
import type { DebSpec } from '../helpers/deb-fixtures.js';
import { serveDirectory } from '../helpers/http-server.js';
import { tmpdir } from '../helpers/tmp.js';
import type { SourceEntry } from '../../src/packages/apt/index.js';

/** A tiny archive: two Essential packages, dependencies, a virtual package, an epoch. */
export const archiveV1: DebSpec[] = [
  { name: 'base-files', version: '12.4', essential: true },
  { name: 'libc6', version: '2.36-9', multiArch: 'same' },
  { name: 'bash', version: '5.2.15-2', essential: true, preDepends: 'libc6 (>= 2.36)' },
  { name: 'hello', version: '1.0-1', depends: 'libgreet (>= 2), libc6' },
  { name: 'libgreet', version: '2.1-1', depends: 'libc6' },
  { name: 'webapp', version: '3.0-1', depends: 'libweb (>= 1), mail-transport-agent' },
  { name: 'libweb', version: '1.2-1', depends: 'libc6' },
  {
    name: 'tiny-mta',
    version: '0.5-1',
    provides: 'mail-transport-agent',
    conflicts: 'mail-transport-agent',
  },
  { name: 'tool', version: '1:0.9-1', architecture: 'all' },
];

/** The archive later: newer versions next to the old ones (apt archives keep both here). */
export const archiveV2: DebSpec[] = [
  ...archiveV1,
  { name: 'hello', version: '1.1-1', depends: 'libgreet (>= 2), libc6' },
  { name: 'libgreet', version: '2.2-1', depends: 'libc6' },
  { name: 'tool', version: '1:1.0-1', architecture: 'all' },
  { name: 'newtool', version: '1.0-1', depends: 'libgreet (>= 2.2)' },
];

export interface Archive {
  repo: AptRepo;
  source: SourceEntry;
  /** Rebuilds the archive in place with other packages (same URL, same key). */
  publish(packages: readonly DebSpec[]): Promise<void>;
}

/** A signed archive served over HTTP on 127.0.0.1, removed after the test. */
export async function servedArchive(packages: readonly DebSpec[]): Promise<Archive> {
  const repo = await buildAptRepo({ packages, suite: 'stable' });
  const server = await serveDirectory(repo.dir);
  onTestFinished(() => server.close());
  return {
    repo,
    source: sourceFor(repo, server.url),
    async publish(next) {
      await buildAptRepo({ packages: next, suite: 'stable', dir: repo.dir });
    },
  };
}

export const draftManifest = `# yaml-language-server: $schema=../schemas/manifest.schema.json
# The development channel of the test OS.
channel: development
system:
  name: cernvm-system
  version: 1.0.0 # bumped by hand
  description: Test OS
base:
  distribution: debian
  suite: stable
  architecture: amd64
# What we asked for; ucvm lock pins the rest.
install:
  - hello # the greeting
files:
  - path: /etc/motd
    content: |
      Welcome
`;

/** A project directory with manifests/development.yaml, plus private apt and cache dirs. */
export async function project(text = draftManifest) {
  const root = await tmpdir();
  const manifestPath = path.join(root, 'manifests', 'development.yaml');
  await mkdir(path.dirname(manifestPath), { recursive: true });
  await writeFile(manifestPath, text);
  const work = await tmpdir();
  return {
    root,
    manifestPath,
    stateDir: path.join(work, 'apt-state'),
    aptCacheDir: path.join(work, 'apt-cache'),
  };
}
