import { lstat, lutimes, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageOwnedPaths, walkTree } from './tree-files.js';

/**
 * Directories whose files no package ships are removed (directories stay: packages own them):
 * logs, apt's lists and caches, man-db's index. All of them are recreated when needed.
 */
const unownedFilesUnder = ['/var/log', '/var/cache/apt', '/var/lib/apt/lists', '/var/cache/man'];

/** Single files that differ from build to build or belong to one machine. */
const volatileFiles = [
  '/etc/.pwd.lock',
  '/var/cache/ldconfig/aux-cache',
  '/var/cache/debconf/config.dat-old',
  '/var/cache/debconf/passwords.dat-old',
  '/var/cache/debconf/templates.dat-old',
  '/var/lib/dpkg/status-old',
  '/var/lib/dpkg/diversions-old',
  '/var/lib/dpkg/statoverride-old',
];

/** Copied from the build machine by mmdebstrap; removed unless a package ships them. */
const buildMachineFiles = ['/etc/resolv.conf', '/etc/hostname'];

/** Replaces the private repository mmdebstrap wrote as the tree's apt source. */
export const sourcesListText =
  '# ucvm installed this system from a pinned package set; it has no apt sources.\n';

/**
 * Removes what makes two builds of one manifest differ, or what must not be shared by every
 * machine that boots the tree: logs, apt lists and caches, backup files, the ldconfig aux cache,
 * SSH host keys, the D-Bus machine id (and `/etc/machine-id` becomes empty, so systemd makes one
 * at first boot), files mmdebstrap copied from the build machine, and everything in /dev, /run and
 * /tmp (the booted system mounts fresh ones).
 */
export async function cleanTree(root: string): Promise<void> {
  const owned = await packageOwnedPaths(root);
  const treePath = (host: string): string => `/${path.relative(root, host)}`;
  for (const dir of unownedFilesUnder) {
    for await (const { path: host, entry } of walkTree(path.join(root, dir))) {
      if (!entry.isDirectory() && !owned.has(treePath(host))) await rm(host, { force: true });
    }
  }
  for (const file of [...volatileFiles, ...buildMachineFiles]) {
    if (!owned.has(file)) await rm(path.join(root, file), { force: true });
  }
  for (const name of await readdir(path.join(root, 'etc/ssh')).catch(() => [])) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name))
      await rm(path.join(root, 'etc/ssh', name), { force: true });
  }
  const dbusId = path.join(root, 'var/lib/dbus/machine-id');
  if ((await lstat(dbusId).catch(() => undefined))?.isFile() === true) await rm(dbusId);
  const machineId = path.join(root, 'etc/machine-id');
  if ((await lstat(machineId).catch(() => undefined))?.isFile() === true)
    await truncate(machineId, 0);
  for (const dir of ['dev', 'run', 'tmp']) {
    for (const name of await readdir(path.join(root, dir)).catch(() => [])) {
      await rm(path.join(root, dir, name), { recursive: true, force: true });
    }
  }
  const sourcesList = path.join(root, 'etc/apt/sources.list');
  if ((await lstat(sourcesList).catch(() => undefined)) !== undefined) {
    await writeFile(sourcesList, sourcesListText);
  }
}

/**
 * Sets the mtime (and atime) of every entry newer than `sourceDateEpoch`, or written since
 * `startedAt` (milliseconds), to `sourceDateEpoch`, the root included; symlinks themselves, not
 * their targets. Files from the packages keep their own older times.
 */
export async function clampMtimes(
  root: string,
  sourceDateEpoch: number,
  startedAt: number,
): Promise<number> {
  let changed = 0;
  const clamp = async (host: string): Promise<void> => {
    const { mtimeMs } = await lstat(host);
    if (mtimeMs > sourceDateEpoch * 1000 || mtimeMs >= startedAt) {
      await lutimes(host, sourceDateEpoch, sourceDateEpoch);
      changed += 1;
    }
  };
  for await (const { path: host } of walkTree(root)) await clamp(host);
  await clamp(root);
  return changed;
}
