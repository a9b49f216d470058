import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { run } from '../../exec/index.js';
import type { CpioEntry } from '../cpio/index.js';
import { followInTree, libraryClosure } from '../closure/libraries.js';

/** The programs the stages run besides busybox, as the packages install them. */
export const INIT_PROGRAMS = [
  // mkfs.ext4, not mke2fs: busybox's sh runs its own mke2fs applet whatever PATH says.
  'mkfs.ext4',
  'mke2fs',
  'e2fsck',
  'tune2fs',
  'resize2fs',
  'e2label',
  'sfdisk',
  'kexec',
  'getfattr',
] as const;

/** The CernVM-FS client's programs, when the image has a client (cvmfs_talk pins files: optional). */
export const CLIENT_PROGRAMS = ['cvmfs2', 'cvmfs_talk'] as const;

const PROGRAM_DIRS = ['/sbin', '/usr/sbin', '/bin', '/usr/bin'];

/** A tree path of a program, or undefined when no package of the tree has it. */
export async function findProgram(tree: string, name: string): Promise<string | undefined> {
  for (const dir of PROGRAM_DIRS) {
    const candidate = `${dir}/${name}`;
    if ((await followInTree(tree, candidate)) !== undefined) return candidate;
  }
  return undefined;
}

/** Entries for tree paths as they are in the tree: files with their permissions, links as links. */
export async function treeEntries(tree: string, paths: readonly string[]): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  for (const treePath of paths) {
    const full = path.join(tree, treePath);
    const stats = await lstat(full);
    if (stats.isSymbolicLink())
      entries.push({ type: 'symlink', path: treePath, target: await readlink(full) });
    else if (stats.isFile())
      entries.push({ type: 'file', path: treePath, source: full, mode: stats.mode & 0o7777 });
    else if (stats.isDirectory())
      entries.push({ type: 'directory', path: treePath, mode: stats.mode & 0o7777 });
    else
      throw new UcvmError(
        'BUILD_FAILED',
        `${treePath} in the image tree is not a file, link or directory`,
      );
  }
  return entries;
}

/** Programs with their interpreter and shared libraries, all from the tree. */
export async function programEntries(
  tree: string,
  programs: readonly string[],
): Promise<CpioEntry[]> {
  const closure = await libraryClosure(tree, programs);
  if (closure.missing.length > 0) {
    const lines = closure.missing.map(
      ({ library, neededBy }) => `${library}, needed by ${neededBy}`,
    );
    throw new UcvmError(
      'BUILD_FAILED',
      `the image's packages lack ${closure.missing.length} shared libraries`,
      {
        details: `${lines.join('\n')}\nAdd the packages that hold them to programs in pipeline/image.yaml and run ucvm image lock.`,
      },
    );
  }
  return treeEntries(tree, closure.paths);
}

/** busybox and a link for each of its applets, as `busybox --list-full` of the pinned binary names them. */
export async function busyboxEntries(
  tree: string,
  taken: ReadonlySet<string>,
): Promise<CpioEntry[]> {
  const busybox = path.join(tree, 'bin', 'busybox');
  const { stdout } = await run(busybox, ['--list-full']).catch((error: unknown) => {
    throw new UcvmError('BUILD_FAILED', 'cannot run the pinned busybox to list its applets', {
      details: `${String(error)}\nbusybox-static must be among the programs of pipeline/image.yaml.`,
    });
  });
  const entries: CpioEntry[] = [
    { type: 'file', path: '/bin/busybox', source: busybox, mode: 0o755 },
  ];
  for (const line of stdout
    .split('\n')
    .map((text) => text.trim())
    .filter(Boolean)
    .sort()) {
    const applet = `/${line}`;
    if (applet === '/bin/busybox' || taken.has(applet) || !/^\/[a-z0-9/._[-]+$/.test(applet))
      continue;
    entries.push({ type: 'symlink', path: applet, target: '/bin/busybox' });
  }
  return entries;
}

/** The module files (dependencies first) and the list the init loads them from. */
export function moduleEntries(
  modulesDir: string,
  version: string,
  files: readonly string[],
): CpioEntry[] {
  const base = `/lib/modules/${version}`;
  const entries: CpioEntry[] = files.map((file) => ({
    type: 'file',
    path: `${base}/${file}`,
    source: path.join(modulesDir, file),
    mode: 0o644,
  }));
  entries.push({
    type: 'file',
    path: `${base}/ucvm.load`,
    content: Buffer.from(files.map((f) => `${f}\n`).join('')),
  });
  return entries;
}

/** One CA bundle from the certificates the ca-certificates package ships, in name order. */
export async function caBundle(tree: string): Promise<CpioEntry[]> {
  const root = path.join(tree, 'usr', 'share', 'ca-certificates');
  const files = (await readdir(root, { recursive: true }).catch(() => [] as string[]))
    .filter((file) => file.endsWith('.crt'))
    .sort();
  if (files.length === 0)
    throw new UcvmError('BUILD_FAILED', 'no CA certificates in the image packages', {
      details: 'ca-certificates must be among the files of pipeline/image.yaml.',
    });
  const parts = await Promise.all(files.map((file) => readFile(path.join(root, file))));
  return [
    { type: 'file', path: '/etc/ssl/certs/ca-certificates.crt', content: Buffer.concat(parts) },
  ];
}

/** Everything every initramfs has: the directories, the console and null devices, accounts. */
export function skeletonEntries(): CpioEntry[] {
  const dirs = [
    '/dev',
    '/proc',
    '/sys',
    '/run',
    '/tmp',
    '/root',
    '/mnt',
    '/etc',
    '/var',
    '/usr/bin',
    '/usr/sbin',
  ];
  return [
    ...dirs.map((dir): CpioEntry => ({
      type: 'directory',
      path: dir,
      mode: dir === '/tmp' ? 0o1777 : 0o755,
    })),
    { type: 'char-device', path: '/dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'char-device', path: '/dev/null', major: 1, minor: 3, mode: 0o666 },
    {
      type: 'file',
      path: '/etc/passwd',
      content: Buffer.from(
        'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
      ),
    },
    { type: 'file', path: '/etc/group', content: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    {
      type: 'file',
      path: '/etc/hosts',
      content: Buffer.from('127.0.0.1 localhost\n::1 localhost\n'),
    },
    {
      type: 'file',
      path: '/etc/nsswitch.conf',
      content: Buffer.from('passwd: files\ngroup: files\nhosts: files dns\n'),
    },
  ];
}

/** The steering: /init, its libraries and stages, from src/image/steering. */
export async function steeringEntries(steeringDir: string): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [
    { type: 'file', path: '/init', source: path.join(steeringDir, 'init'), mode: 0o755 },
  ];
  for (const dir of ['lib', 'stages', 'bin']) {
    for (const name of (await readdir(path.join(steeringDir, dir))).sort()) {
      entries.push({
        type: 'file',
        path: `/lib/ucvm/${dir}/${name}`,
        source: path.join(steeringDir, dir, name),
        mode: dir === 'bin' ? 0o755 : 0o644,
      });
    }
  }
  return entries;
}
