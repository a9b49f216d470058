import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../errors.js';

/** Mount points at or under `dir`, from /proc/self/mountinfo (empty where there is none). */
export async function mountsUnder(dir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const base = path.resolve(dir);
  return (
    text
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      // mountinfo escapes space, tab, newline and backslash as octal.
      .map((point) =>
        point.replace(/\\([0-7]{3})/g, (_, octal: string) =>
          String.fromCharCode(Number.parseInt(octal, 8)),
        ),
      )
      .filter((point) => point === base || point.startsWith(`${base}/`))
  );
}

/**
 * Removes a build directory, unless something is still mounted inside it: a chroot whose /dev,
 * /proc or /sys was left mounted by a killed installer would otherwise take the build machine's
 * files with it.
 */
export async function removeBuildDir(dir: string): Promise<void> {
  const mounts = await mountsUnder(dir);
  if (mounts.length > 0) {
    throw new UcvmError(
      'BUILD_FAILED',
      `${dir} still has file systems mounted inside; not removed`,
      {
        details: `${mounts.join('\n')}\nUnmount them (umount --recursive) and remove the directory by hand.`,
      },
    );
  }
  await rm(dir, { recursive: true, force: true });
}
