import { lstat, lutimes } from 'node:fs/promises';
import { walkTree } from './tree-paths.js';

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
