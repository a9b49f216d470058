import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { sha256File } from '../../packages/apt/fetch.js';
import type { ClientArchive } from './schema.js';

/** An archive of a client is a few MB; anything past this is not one. */
const MAX_ARCHIVE_BYTES = 512 * 1024 * 1024;

export const CLIENT_HOWTO =
  'Build or download the CernVM-FS client, pack usr/bin/cvmfs2 and its libraries as a .deb or a tar, and set in pipeline/image.yaml:\n  client: { archive: <path, URL or env:VAR>, sha256: <sha256sum of it>, version: <its version> }\nAn image that boots a squashfs export instead needs no client: ucvm image build --root squashfs.';

/**
 * The client archive as a verified local file: a path (relative to the project root), an
 * http(s) URL (downloaded into `cacheDir`, at most 512 MiB) or env:VAR naming either. The
 * SHA-256 must be the pinned one.
 */
export async function fetchClientArchive(
  client: ClientArchive | undefined,
  root: string,
  cacheDir: string,
): Promise<string> {
  if (client === undefined)
    throw new UcvmError('CLIENT_MISSING', 'pipeline/image.yaml names no CernVM-FS client', {
      details: CLIENT_HOWTO,
    });
  const location = resolveLocation(client.archive);
  const file = /^https?:\/\//.test(location)
    ? await download(location, path.join(cacheDir, `client-${client.sha256}`))
    : path.resolve(root, location);
  const actual = await sha256Of(file);
  if (actual !== client.sha256)
    throw new UcvmError(
      'PACKAGE_VERIFY',
      `the CernVM-FS client archive ${location} is not the pinned one`,
      {
        details: `Its SHA-256 is ${actual}; pipeline/image.yaml pins ${client.sha256}.`,
        where: { file: 'pipeline/image.yaml', path: 'client.sha256' },
      },
    );
  return file;
}

function resolveLocation(archive: string): string {
  if (!archive.startsWith('env:')) return archive;
  const name = archive.slice(4);
  const value = process.env[name];
  if (value === undefined || value.trim() === '')
    throw new UcvmError('CLIENT_MISSING', `client.archive is ${archive}, and ${name} is not set`, {
      details: CLIENT_HOWTO,
    });
  return value.trim();
}

async function sha256Of(file: string): Promise<string> {
  try {
    return await sha256File(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UcvmError(
      'CLIENT_MISSING',
      `cannot read the CernVM-FS client archive ${file} (${code ?? 'error'})`,
      {
        details: CLIENT_HOWTO,
      },
    );
  }
}

async function download(url: string, target: string): Promise<string> {
  await mkdir(path.dirname(target), { recursive: true });
  const response = await fetch(url, {
    redirect: 'error',
    signal: AbortSignal.timeout(300_000),
  }).catch((error: unknown) => {
    throw new UcvmError(
      'HTTP_FAILED',
      `cannot download the client archive ${url}: ${(error as Error).message}`,
    );
  });
  if (!response.ok || response.body === null)
    throw new UcvmError(
      'HTTP_FAILED',
      `cannot download the client archive ${url}: HTTP ${response.status}`,
    );
  const temporary = `${target}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w');
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += (chunk as Uint8Array).length;
      if (size > MAX_ARCHIVE_BYTES)
        throw new UcvmError('LIMIT_EXCEEDED', `the client archive ${url} is larger than 512 MiB`);
      await handle.write(chunk as Uint8Array);
    }
    await handle.close();
    await rename(temporary, target);
    return target;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
}
