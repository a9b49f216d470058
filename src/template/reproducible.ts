import { constants } from 'node:fs';
import { lstat, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { resolveDirInTree, resolveInTree, walkTree } from '../reproducible/tree-paths.js';
import { packageOwnedPaths } from './tree-files.js';

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
  // Every path is resolved inside the tree, as a chroot would: a tree whose /var/log, /run or
  // /etc is a symlink to an absolute path must not empty or overwrite the build machine's.
  const owned = await packageOwnedPaths(root);
  for (const dir of unownedFilesUnder) {
    const hostDir = await resolveDirInTree(root, dir);
    for await (const { path: host, entry } of walkTree(hostDir)) {
      const treePath = `${dir}/${path.relative(hostDir, host)}`;
      if (!entry.isDirectory() && !owned.has(treePath)) await rm(host, { force: true });
    }
  }
  for (const file of [...volatileFiles, ...buildMachineFiles]) {
    if (!owned.has(file)) await rm(await resolveInTree(root, file), { force: true });
  }
  const ssh = await resolveDirInTree(root, '/etc/ssh');
  for (const name of await readdir(ssh).catch(() => [])) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name)) await rm(path.join(ssh, name), { force: true });
  }
  const dbusId = await resolveInTree(root, '/var/lib/dbus/machine-id');
  if ((await lstat(dbusId).catch(() => undefined))?.isFile() === true) await rm(dbusId);
  const machineId = await resolveInTree(root, '/etc/machine-id');
  if ((await lstat(machineId).catch(() => undefined))?.isFile() === true)
    await writeInTree(machineId, '');
  for (const dir of ['/dev', '/run', '/tmp']) {
    const hostDir = await resolveDirInTree(root, dir);
    for (const name of await readdir(hostDir).catch(() => [])) {
      await rm(path.join(hostDir, name), { recursive: true, force: true });
    }
  }
  const sourcesList = await resolveInTree(root, '/etc/apt/sources.list');
  if ((await lstat(sourcesList).catch(() => undefined)) !== undefined) {
    // A symlink there is replaced by the file, not written through.
    await rm(sourcesList, { force: true });
    await writeInTree(sourcesList, sourcesListText);
  }
}

/** Writes a file that is not followed if it is a symlink (O_NOFOLLOW), creating or truncating it. */
async function writeInTree(host: string, text: string): Promise<void> {
  const handle = await open(
    host,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
