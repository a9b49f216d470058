import { mkdir } from 'node:fs/promises';
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
 * Unpacks the client archive into the tree: a .deb with dpkg-deb, a tar (plain, gzip, xz or
 * zstd) with tar, which keeps member names inside the tree (leading `/` and `..` refused),
 * never restores owners, and is never asked to follow a link of the tree.
 */
export async function extractClientArchive(file: string, tree: string): Promise<void> {
  await mkdir(tree, { recursive: true });
  const isDeb = /\.deb$/.test(file) || (await looksLikeDeb(file));
  const args = isDeb
    ? (['dpkg-deb', ['-x', file, tree]] as const)
    : ([
        'tar',
        [
          '-x',
          '--no-same-owner',
          '--no-same-permissions',
          '--no-overwrite-dir',
          '-C',
          tree,
          '-f',
          file,
        ],
      ] as const);
  await run(args[0], [...args[1]]).catch((error: unknown) => {
    throw new UcvmError('BUILD_FAILED', `cannot unpack the CernVM-FS client archive ${file}`, {
      details: `${String(error)}\nExpected a .deb or a tar (optionally gzip, xz or zstd compressed).`,
      cause: error,
    });
  });
}

async function looksLikeDeb(file: string): Promise<boolean> {
  const { open } = await import('node:fs/promises');
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    await handle.read(head, 0, 8, 0);
    return head.toString('latin1') === '!<arch>\n';
  } finally {
    await handle.close();
  }
}
