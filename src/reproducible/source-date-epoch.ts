import { open } from 'node:fs/promises';
import { UcvmError } from '../errors.js';

const arMagic = '!<arch>\n';

/**
 * The build time of a .deb: the mtime in the ar header of its first member (`debian-binary`).
 * dpkg-deb writes SOURCE_DATE_EPOCH there, so for Debian's reproducible packages this is the
 * date of the package's changelog entry; it never depends on when the file was downloaded.
 */
export async function debBuildTime(debPath: string): Promise<number> {
  const handle = await open(debPath, 'r');
  try {
    const header = Buffer.alloc(arMagic.length + 60);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    const text = header.toString('latin1', 0, bytesRead);
    // ar member header: name[16] mtime[12] uid[6] gid[6] mode[8] size[10] "`\n".
    const mtime = Number(text.slice(arMagic.length + 16, arMagic.length + 28).trim());
    if (!text.startsWith(arMagic) || bytesRead < header.length || !Number.isSafeInteger(mtime)) {
      throw new UcvmError('PACKAGE_VERIFY', `${debPath} is not a Debian package (no ar header)`);
    }
    return mtime;
  } finally {
    await handle.close();
  }
}

/**
 * The SOURCE_DATE_EPOCH of a build: the newest build time of its packages. It is a function of
 * the pinned package set alone, so one manifest gives one value on any machine and any day,
 * and files the installation creates get a date no older than anything the packages ship.
 */
export async function sourceDateEpochOfPackages(debPaths: Iterable<string>): Promise<number> {
  let newest = 0;
  for (const debPath of debPaths) newest = Math.max(newest, await debBuildTime(debPath));
  return newest;
}

/** Checks an explicit SOURCE_DATE_EPOCH (an option or the environment variable). */
export function parseSourceDateEpoch(text: string, origin: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new UcvmError(
      'USAGE',
      `${origin} must be a number of seconds since 1970, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}
