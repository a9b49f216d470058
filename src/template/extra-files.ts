import { UcvmError } from '../errors.js';
import type { TreeFile } from '../manifest/index.js';
import { lstatInTree, writeFileInTree } from '../reproducible/tree-paths.js';
import { readProjectSource } from './project-source.js';

/** A manifest file with its content read. */
export interface ExtraFile {
  path: string;
  mode: number;
  content: Buffer;
}

/**
 * Reads the content of every extra file (`content`, or `source` relative to `filesRoot`, the
 * root of the git repository), so that a missing source fails before anything is built.
 */
export async function loadExtraFiles(
  files: readonly TreeFile[],
  filesRoot: string | undefined,
): Promise<ExtraFile[]> {
  return Promise.all(
    files.map(async (file, index) => ({
      path: file.path,
      mode: Number.parseInt(file.mode, 8),
      content: await contentOf(file, index, filesRoot),
    })),
  );
}

async function contentOf(
  file: TreeFile,
  index: number,
  filesRoot: string | undefined,
): Promise<Buffer> {
  if (file.content !== undefined) return Buffer.from(file.content);
  if (filesRoot === undefined) {
    throw new UcvmError(
      'USAGE',
      `${file.path}: source ${file.source ?? ''} needs the repository root`,
      {
        details: 'Pass filesRoot (the CLI passes --root) so that source paths can be read.',
      },
    );
  }
  return readProjectSource(filesRoot, file.source ?? '', `files.${index}.source`);
}

/**
 * Writes the manifest's extra files into the tree: owned by root, with the given mode and an
 * mtime of SOURCE_DATE_EPOCH; missing parent directories are made (0755). A file replaces
 * whatever regular file or symlink was there (a package's /etc/motd, say); a directory in the
 * way is an error. Paths resolve inside the tree, never through a symlink to the build machine.
 */
export async function addExtraFiles(
  root: string,
  files: readonly ExtraFile[],
  sourceDateEpoch: number,
): Promise<void> {
  const owner = process.getuid?.() === 0 ? { uid: 0, gid: 0 } : undefined;
  for (const file of files) {
    if ((await lstatInTree(root, file.path))?.isDirectory() === true) {
      throw new UcvmError(
        'BUILD_FAILED',
        `${file.path}: a directory is in the way of an extra file`,
        {
          details: 'An installed package ships a directory at this path; choose another path.',
        },
      );
    }
    await writeFileInTree(root, file.path, file.content, {
      mode: file.mode,
      mtime: sourceDateEpoch,
      owner,
    });
  }
}
