import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../src/exec/index.js';

/**
 * A fixture "base system" package for hermetic builds in `root` mode: just enough for
 * mmdebstrap to chroot and run dpkg inside the tree, made from the build machine's own
 * binaries (dpkg, GNU tar, env, a busybox for the shell and small tools) and the libraries
 * `ldd` names for them. Essential: yes, like Debian's real base.
 */
export const hostBaseName = 'fixture-base';
export const hostBaseVersion = '1.0';

const binaries: readonly [string, string][] = [
  ['/usr/bin/dpkg', '/usr/bin/dpkg'],
  ['/usr/bin/dpkg-deb', '/usr/bin/dpkg-deb'],
  ['/usr/bin/dpkg-query', '/usr/bin/dpkg-query'],
  ['/usr/bin/dpkg-split', '/usr/bin/dpkg-split'],
  ['/usr/bin/dpkg-divert', '/usr/bin/dpkg-divert'],
  ['/usr/bin/dpkg-trigger', '/usr/bin/dpkg-trigger'],
  ['/usr/bin/dpkg-statoverride', '/usr/bin/dpkg-statoverride'],
  ['/usr/bin/tar', '/bin/tar'],
  // busybox's env runs its own applets; apt needs one that execs the real dpkg.
  ['/usr/bin/env', '/usr/bin/env'],
  ['/bin/busybox', '/bin/busybox'],
];

const busyboxApplets = [
  'sh',
  'rm',
  'diff',
  'cat',
  'ls',
  'mkdir',
  'echo',
  'touch',
  'chmod',
  'ln',
  'mv',
  'cp',
  'sed',
  'grep',
];

/** Why the host cannot make the fixture, or undefined when it can. */
export function hostBaseProblem(): string | undefined {
  const missing = [...binaries.map(([from]) => from), '/usr/bin/ldd', '/usr/bin/mmdebstrap'].filter(
    (file) => !existsSync(file),
  );
  if (missing.length > 0) return `missing on this machine: ${missing.join(', ')}`;
  if (process.getuid?.() !== 0) return 'mmdebstrap --mode=root needs root';
  return undefined;
}

async function libraries(file: string): Promise<string[]> {
  const { stdout } = await run('ldd', [file], { okExitCodes: [0, 1] });
  return [...stdout.matchAll(/(\/\S+\.so[^\s]*)/g)]
    .map((match) => match[1] ?? '')
    .filter((lib) => lib !== '');
}

/** Builds `fixture-base_1.0_<arch>.deb` into `outDir`; returns its path. */
export async function buildHostBase(outDir: string): Promise<string> {
  const architecture = (await run('dpkg', ['--print-architecture'])).stdout.trim();
  await mkdir(outDir, { recursive: true });
  const root = await mkdtemp(path.join(outDir, '.base-'));
  try {
    await chmod(root, 0o755);
    const place = async (from: string, to: string): Promise<void> => {
      await mkdir(path.dirname(path.join(root, to)), { recursive: true });
      await copyFile(from, path.join(root, to));
      await chmod(path.join(root, to), 0o755);
    };
    const libs = new Set<string>();
    for (const [from, to] of binaries) {
      await place(from, to);
      for (const lib of await libraries(from)) libs.add(lib);
    }
    for (const lib of libs) await place(lib, lib);
    for (const applet of busyboxApplets) await symlink('busybox', path.join(root, 'bin', applet));
    await mkdir(path.join(root, 'sbin'));
    for (const tool of ['ldconfig', 'start-stop-daemon']) {
      await writeFile(path.join(root, 'sbin', tool), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    }
    await mkdir(path.join(root, 'etc'));
    await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(path.join(root, 'etc/group'), 'root:x:0:\n');
    for (const dir of ['proc', 'sys', 'dev', 'tmp', 'root']) await mkdir(path.join(root, dir));
    await mkdir(path.join(root, 'DEBIAN'), { mode: 0o755 });
    await writeFile(
      path.join(root, 'DEBIAN/control'),
      [
        `Package: ${hostBaseName}`,
        `Version: ${hostBaseVersion}`,
        `Architecture: ${architecture}`,
        'Maintainer: ucvm tests <tests@example.invalid>',
        'Essential: yes',
        'Priority: required',
        'Description: base system made of the build machine binaries',
        ' Lets mmdebstrap chroot into a hermetic test tree and run dpkg there.',
        '',
      ].join('\n'),
    );
    const out = path.join(outDir, `${hostBaseName}_${hostBaseVersion}_${architecture}.deb`);
    await run('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', '-z1', root, out]);
    return out;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
