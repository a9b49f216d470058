import { lstat, mkdir, mkdtemp, open, readdir, readlink, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { run } from '../../exec/index.js';

/**
 * Unpacks the pinned packages into one tree, in name order (a later package's file replaces an
 * earlier one's, as dpkg would refuse: the image takes files out, it does not install). Only
 * dpkg-deb reads the archives; nothing of them runs.
 */
export async function extractPackages(files: readonly string[], tree: string): Promise<void> {
  await mkdir(tree, { recursive: true });
  for (const file of files) {
    await run('dpkg-deb', ['-x', file, tree]).catch((error: unknown) => {
      throw new UcvmError('BUILD_FAILED', `cannot unpack ${file}`, {
        details: String(error),
        cause: error,
      });
    });
  }
}

/**
 * Unpacks the client archive into a directory of its own (a .deb with dpkg-deb, a tar, plain or
 * compressed, with tar, never restoring owners), then takes into the tree only the client's
 * files: usr/bin/cvmfs2 and cvmfs_talk, libcvmfs_*.so* in usr/lib (or lib64), each a regular file or a link
 * to a name in its own directory. Nothing else of the archive reaches the image, and nothing
 * is written through a link.
 */
export async function extractClientArchive(
  file: string,
  tree: string,
  work: string,
): Promise<string[]> {
  const unpacked = await mkdtemp(path.join(work, 'client-'));
  const isDeb = /\.deb$/.test(file) || (await looksLikeDeb(file));
  const [tool, args] = isDeb
    ? ['dpkg-deb', ['-x', file, unpacked]]
    : ['tar', ['-x', '--no-same-owner', '--no-same-permissions', '-C', unpacked, '-f', file]];
  await run(tool, args).catch((error: unknown) => {
    throw new UcvmError('BUILD_FAILED', `cannot unpack the CernVM-FS client archive ${file}`, {
      details: `${String(error)}\nExpected a .deb or a tar (optionally gzip, xz or zstd compressed).`,
      cause: error,
    });
  });
  const taken: string[] = [];
  for (const dir of ['usr/bin', 'usr/lib', 'usr/lib64', 'usr/lib/x86_64-linux-gnu']) {
    const names = await readdir(path.join(unpacked, dir)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      if (
        !(dir === 'usr/bin' ? /^cvmfs(2|_talk)$/ : /^libcvmfs_[A-Za-z0-9_]+\.so[0-9.]*$/).test(name)
      )
        continue;
      const from = path.join(unpacked, dir, name);
      const stats = await lstat(from);
      if (stats.isSymbolicLink()) {
        const target = await readlink(from);
        if (target.includes('/'))
          throw new UcvmError(
            'BUILD_FAILED',
            `the client archive's ${dir}/${name} links out of its directory (${target})`,
          );
      } else if (!stats.isFile()) continue;
      await mkdir(path.join(tree, dir), { recursive: true });
      const to = path.join(tree, dir, name);
      await rm(to, { force: true });
      await rename(from, to);
      taken.push(`${dir}/${name}`);
    }
  }
  if (!taken.includes('usr/bin/cvmfs2'))
    throw new UcvmError(
      'BUILD_FAILED',
      `the CernVM-FS client archive ${file} has no usr/bin/cvmfs2`,
      {
        details: 'Pack the client as usr/bin/cvmfs2 and usr/lib/libcvmfs_*.so* (a .deb or a tar).',
      },
    );
  return taken;
}

async function looksLikeDeb(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    await handle.read(head, 0, 8, 0);
    return head.toString('latin1') === '!<arch>\n';
  } finally {
    await handle.close();
  }
}
