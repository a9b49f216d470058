import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildAptRepo } from '../helpers/apt-repo.js';
import { startUcvm } from '../helpers/cli.js';
import type { DebSpec } from '../helpers/deb-fixtures.js';
import { serveDirectory } from '../helpers/http-server.js';
import { tmpdir } from '../helpers/tmp.js';

/** The release suite: what bookworm carries (two versions of hello, as after a point release). */
const bookworm: DebSpec[] = [
  { name: 'hello', version: '1.0-1' },
  { name: 'hello', version: '1.1-1' },
  { name: 'libssl3', version: '3.0.11-1~deb12u2' },
  { name: 'bash', version: '5.2.15-2+b2' },
  // Pinned 1:0.9-1: "2.0-1" without an epoch is older, whatever the digits say.
  { name: 'tool', version: '1:0.9-1', architecture: 'all' },
  { name: 'tool', version: '2.0-1', architecture: 'all' },
  // The security fix (2024b-0+deb12u1) was folded into a point release that is newer still.
  { name: 'tzdata', version: '2024a-0+deb12u1', architecture: 'all' },
  { name: 'tzdata', version: '2025a-0+deb12u1', architecture: 'all' },
];

/** The security suite: a fixed libssl3 and the tzdata fix. */
const security: DebSpec[] = [
  { name: 'libssl3', version: '3.0.11-1~deb12u3' },
  { name: 'tzdata', version: '2024b-0+deb12u1', architecture: 'all' },
];

/** Another release the machine also has sources for: never a candidate for a bookworm OS. */
const trixie: DebSpec[] = [
  { name: 'hello', version: '9.0-1' },
  { name: 'bash', version: '5.3-1' },
];

function manifestText(pins: Record<string, string>): string {
  return `channel: production
system:
  name: cernvm-system
  version: 1.0.0
base:
  distribution: debian
  suite: bookworm
  architecture: amd64
packages:
${Object.entries(pins)
  .map(([name, version]) => `  ${name}: "${version}"`)
  .join('\n')}
`;
}

const pins = {
  bash: '5.2.15-2+b2',
  hello: '1.0-1',
  libssl3: '3.0.11-1~deb12u2',
  tool: '1:0.9-1',
  tzdata: '2024a-0+deb12u1',
  // Dropped by the archive altogether.
  'gone-tool': '0.1-1',
};

/**
 * A machine root whose apt sources name a Debian-like mirror served on 127.0.0.1:
 * `debian bookworm`, `debian-security bookworm-security`, and `debian trixie`, all signed.
 */
async function machine(options: { securityKey?: 'wrong-key' } = {}) {
  const mirror = await tmpdir();
  const main = await buildAptRepo({
    packages: bookworm,
    suite: 'bookworm',
    dir: path.join(mirror, 'debian'),
  });
  await buildAptRepo({ packages: trixie, suite: 'trixie', dir: path.join(mirror, 'trixie') });
  await buildAptRepo({
    packages: security,
    suite: 'bookworm-security',
    dir: path.join(mirror, 'debian-security'),
    ...(options.securityKey !== undefined && { sign: options.securityKey }),
  });
  const server = await serveDirectory(mirror);
  onTestFinished(() => server.close());
  const aptRoot = await tmpdir();
  await mkdir(path.join(aptRoot, 'etc/apt/sources.list.d'), { recursive: true });
  await copyFile(main.keyring, path.join(aptRoot, 'archive.gpg'));
  await writeFile(
    path.join(aptRoot, 'etc/apt/sources.list.d/debian.sources'),
    [
      `Types: deb\nURIs: ${server.url}/debian\nSuites: bookworm\nComponents: main\nSigned-By: /archive.gpg\n`,
      `Types: deb\nURIs: ${server.url}/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /archive.gpg\n`,
      `Types: deb\nURIs: ${server.url}/trixie\nSuites: trixie\nComponents: main\nSigned-By: /archive.gpg\n`,
    ].join('\n'),
  );
  return { url: server.url, aptRoot, requests: server.requests };
}

async function project(text = manifestText(pins)) {
  return tmpdir({ 'manifests/production.yaml': text });
}

/** The built CLI as a child process (the archive is served by this one: it must keep running). */
async function outdated(root: string, aptRoot: string, cache: string, ...args: string[]) {
  const run = startUcvm([
    'outdated',
    'production',
    '--root',
    root,
    '--apt-root',
    aptRoot,
    '--cache',
    cache,
    ...args,
  ]);
  return run.done;
}

interface Report {
  channel: string;
  packages: {
    name: string;
    pinned: string;
    available: string;
    security: boolean;
    origin: string;
  }[];
}

describe('ucvm outdated', () => {
  it('lists newer versions from the base suite and its security suite, security marked', async () => {
    const { url, aptRoot } = await machine();
    const root = await project();
    const cache = await tmpdir();
    const result = await outdated(root, aptRoot, cache, '--json');
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report).toEqual({
      channel: 'production',
      packages: [
        {
          name: 'hello',
          pinned: '1.0-1',
          available: '1.1-1',
          security: false,
          origin: `${url}/debian bookworm/main`,
        },
        {
          name: 'libssl3',
          pinned: '3.0.11-1~deb12u2',
          available: '3.0.11-1~deb12u3',
          security: true,
          origin: `${url}/debian-security bookworm-security/main`,
        },
        {
          // The newest is the point release; the security suite's fix in between still counts.
          name: 'tzdata',
          pinned: '2024a-0+deb12u1',
          available: '2025a-0+deb12u1',
          security: true,
          origin: `${url}/debian bookworm/main`,
        },
      ],
    });
    // Under --json the only other output is the warning about the package the sources dropped.
    expect(result.stderr).toBe(
      'warning: pinned package not in the sources any more package=gone-tool pinned=0.1-1\n',
    );
  });

  it('prints a table, the dropped package, and exit 3 with --detailed-exitcode', async () => {
    const { url, aptRoot } = await machine();
    const root = await project();
    const cache = await tmpdir();
    const result = await outdated(root, aptRoot, cache, '--detailed-exitcode');
    expect(result.status, result.stderr).toBe(3);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^package\s+pinned\s+available\s+security\s+origin$/);
    expect(lines[1]).toMatch(
      new RegExp(`^hello\\s+1\\.0-1\\s+1\\.1-1\\s+-\\s+${url}/debian bookworm/main$`),
    );
    expect(lines[2]).toMatch(/^libssl3\s+3\.0\.11-1~deb12u2\s+3\.0\.11-1~deb12u3\s+yes\s+/);
    expect(lines[3]).toMatch(/^tzdata\s+2024a-0\+deb12u1\s+2025a-0\+deb12u1\s+yes\s+/);
    expect(lines.slice(4)).toEqual([
      '',
      'production: 3 of 6 pinned packages have a newer version, 2 with a security update',
      'not in the sources any more: gone-tool (pinned 0.1-1)',
    ]);
    // Neither the up-to-date bash, nor tool (its epoch makes 1:0.9-1 the newest), nor trixie's.
    expect(result.stdout).not.toMatch(/^(bash|tool)\b/m);
    expect(result.stdout).not.toContain('9.0-1');
  });

  it('exits 0 with --detailed-exitcode when the updates are not security updates, and works offline', async () => {
    const { aptRoot, requests } = await machine();
    const root = await project(manifestText({ hello: '1.0-1', bash: '5.2.15-2+b2' }));
    const cache = await tmpdir();
    const online = await outdated(root, aptRoot, cache, '--detailed-exitcode', '--json');
    expect(online.status, online.stderr).toBe(0);
    expect((JSON.parse(online.stdout) as Report).packages.map((entry) => entry.name)).toEqual([
      'hello',
    ]);
    const before = requests.length;
    const offline = await outdated(root, aptRoot, cache, '--offline', '--detailed-exitcode');
    expect(offline.status, offline.stderr).toBe(0);
    expect(requests.length).toBe(before);
    expect(offline.stdout).toContain('production: 1 of 2 pinned packages have a newer version');
  });

  it('says so when everything is up to date', async () => {
    const { aptRoot } = await machine();
    const root = await project(manifestText({ hello: '1.1-1', bash: '5.2.15-2+b2' }));
    const result = await outdated(root, aptRoot, await tmpdir(), '--detailed-exitcode');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe('production: all 2 pinned packages are up to date\n');
  });

  it('refuses a security suite whose Release is not signed by a trusted key (exit 1)', async () => {
    const { aptRoot } = await machine({ securityKey: 'wrong-key' });
    const root = await project();
    const result = await outdated(root, aptRoot, await tmpdir(), '--json');
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^error RELEASE_SIGNATURE: .*debian-security\/dists\/bookworm-security/m,
    );
  });

  it('rejects an unknown channel, naming the channels (exit 2)', async () => {
    const root = await project();
    const result = await startUcvm(['outdated', 'staging', '--root', root]).done;
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('error USAGE: unknown channel "staging"');
    expect(result.stderr).toContain('Channels: development, testing, production.');
  });

  it('documents exit 3 beside the other exit codes', async () => {
    const result = await startUcvm(['outdated', '--help']).done;
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      'Exit status: 0 success (outdated packages or not), 3 a security update is pending (with --detailed-exitcode), 1 error',
    );
    expect(result.stdout).toContain('2 bad input');
  });
});
