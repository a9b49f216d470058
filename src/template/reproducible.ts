import path from 'node:path';
import { UcvmError } from '../errors.js';
import { mountsUnder } from '../reproducible/safe-remove.js';
import {
  emptyDirInTree,
  lstatInTree,
  readDirInTree,
  removeInTree,
  resolveDirInTree,
  walkTree,
  writeFileInTree,
} from '../reproducible/tree-paths.js';
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
  // Every path is resolved inside the tree (src/reproducible/tree-paths.ts): a tree whose
  // /var/log, /run or /etc is a symlink to an absolute path must not empty or overwrite the
  // build machine's. Nor may a file system still mounted inside (removal crosses into it).
  const mounts = await mountsUnder(root);
  if (mounts.length > 0) {
    throw new UcvmError('BUILD_FAILED', `${root} has file systems mounted inside; not cleaned`, {
      details: `${mounts.join('\n')}\nThe installer left them mounted: unmount them (umount --recursive) and build again.`,
    });
  }
  const owned = await packageOwnedPaths(root);
  for (const dir of unownedFilesUnder) {
    const hostDir = await resolveDirInTree(root, dir);
    for await (const { path: host, entry } of walkTree(hostDir)) {
      const treePath = `${dir}/${path.relative(hostDir, host)}`;
      if (!entry.isDirectory() && !owned.has(treePath)) await removeInTree(root, treePath);
    }
  }
  for (const file of [...volatileFiles, ...buildMachineFiles]) {
    if (!owned.has(file)) await removeInTree(root, file);
  }
  for (const name of await readDirInTree(root, '/etc/ssh')) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name)) await removeInTree(root, `/etc/ssh/${name}`);
  }
  if ((await lstatInTree(root, '/var/lib/dbus/machine-id'))?.isFile() === true)
    await removeInTree(root, '/var/lib/dbus/machine-id');
  const machineId = await lstatInTree(root, '/etc/machine-id');
  if (machineId?.isFile() === true)
    await writeFileInTree(root, '/etc/machine-id', '', { mode: machineId.mode & 0o7777 });
  for (const dir of ['/dev', '/run', '/tmp']) await emptyDirInTree(root, dir);
  // A symlink there is replaced by the file, not written through.
  if ((await lstatInTree(root, '/etc/apt/sources.list')) !== undefined)
    await writeFileInTree(root, '/etc/apt/sources.list', sourcesListText, { mode: 0o644 });
}
