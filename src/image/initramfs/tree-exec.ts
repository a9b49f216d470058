import path from 'node:path';
import { run } from '../../exec/index.js';
import type { RunResult } from '../../exec/index.js';

/**
 * Runs a program of the unpacked packages through the tree's own dynamic loader and libraries,
 * so that a build tool (depmod, grub-mkimage) is the pinned one and needs nothing of the host.
 */
export async function runFromTree(
  tree: string,
  program: string,
  args: readonly string[],
  argv0?: string,
): Promise<RunResult> {
  const libraryPath = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu']
    .map((dir) => path.join(tree, dir))
    .join(':');
  return run(path.join(tree, 'lib64/ld-linux-x86-64.so.2'), [
    '--library-path',
    libraryPath,
    ...(argv0 === undefined ? [] : ['--argv0', argv0]),
    path.join(tree, program),
    ...args,
  ]);
}
