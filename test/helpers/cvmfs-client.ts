import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The real CernVM-FS client, when this machine has one (it is built outside the project, never
 * committed). Set UCVM_CVMFS_PREFIX to its install prefix (default /opt/cvmfs/usr).
 */
export interface CvmfsClient {
  cvmfs2: string;
  swissknife: string | undefined;
  libDir: string;
}

export function findCvmfsClient(): CvmfsClient | undefined {
  const prefix = process.env.UCVM_CVMFS_PREFIX ?? '/opt/cvmfs/usr';
  const cvmfs2 = path.join(prefix, 'bin', 'cvmfs2');
  if (!existsSync(cvmfs2) || !existsSync('/dev/fuse')) return undefined;
  const swissknife = path.join(prefix, 'bin', 'cvmfs_swissknife');
  return {
    cvmfs2,
    swissknife: existsSync(swissknife) ? swissknife : undefined,
    libDir: path.join(prefix, 'lib'),
  };
}

export const CLIENT_SKIP_REASON =
  'the real cvmfs2 client is not installed here (set UCVM_CVMFS_PREFIX); skipped, not passed';

const execFileAsync = promisify(execFile);

/** Runs a program without blocking the event loop: the HTTP server under test lives in this process. */
async function runAsync(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeout: number,
): Promise<{ status: number | null; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      env,
      timeout,
      maxBuffer: 64 << 20,
    });
    return { status: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    return {
      status: typeof failed.code === 'number' ? failed.code : null,
      output: `${failed.stdout ?? ''}${failed.stderr ?? ''}`,
    };
  }
}

export interface Mount {
  dir: string;
  unmount(): void;
}

function clientEnv(client: CvmfsClient): NodeJS.ProcessEnv {
  return { ...process.env, LD_LIBRARY_PATH: client.libDir, CVMFS_LIBRARY_PATH: client.libDir };
}

/** Mounts a repository from a base URL, optionally at a tag, with a private cache. */
export async function mountRepository(
  client: CvmfsClient,
  options: {
    work: string;
    baseUrl: string;
    fqrn: string;
    publicKey: string;
    tag?: string;
    name: string;
  },
): Promise<Mount> {
  const dir = path.join(options.work, `mnt-${options.name}`);
  const cache = path.join(options.work, `cache-${options.name}`);
  mkdirSync(dir, { recursive: true });
  mkdirSync(cache, { recursive: true });
  const config = path.join(options.work, `client-${options.name}.conf`);
  const lines = [
    `CVMFS_SERVER_URL=${options.baseUrl}`,
    'CVMFS_HTTP_PROXY=DIRECT',
    `CVMFS_PUBLIC_KEY=${options.publicKey}`,
    `CVMFS_CACHE_BASE=${cache}`,
    'CVMFS_SHARED_CACHE=no',
    'CVMFS_QUOTA_LIMIT=-1',
    'CVMFS_USER=root',
    `CVMFS_RELOAD_SOCKETS=${cache}`,
    'CVMFS_CLAIM_OWNERSHIP=no',
    'CVMFS_AUTO_UPDATE=no',
    'CVMFS_TIMEOUT=5',
    'CVMFS_TIMEOUT_DIRECT=5',
    'CVMFS_MAX_RETRIES=0',
  ];
  if (options.tag !== undefined) lines.push(`CVMFS_REPOSITORY_TAG=${options.tag}`);
  writeFileSync(config, `${lines.join('\n')}\n`);
  const result = await runAsync(
    client.cvmfs2,
    ['-o', `config=${config},fsname=cvmfs2,allow_other`, options.fqrn, dir],
    clientEnv(client),
    60_000,
  );
  if (result.status !== 0)
    throw new Error(`cvmfs2 failed to mount (${result.status}): ${result.output}`);
  return {
    dir,
    unmount: () => {
      execFileSync('fusermount3', ['-u', dir]);
    },
  };
}

/** `cvmfs_swissknife check` over HTTP: signatures, catalogs, counters, link counts, objects (-c). */
export async function swissknifeCheck(
  client: CvmfsClient,
  options: { work: string; baseUrl: string; fqrn: string; publicKey: string; tag?: string },
): Promise<{ status: number | null; output: string }> {
  const temp = path.join(options.work, 'check-tmp');
  mkdirSync(temp, { recursive: true });
  const args = [
    'check',
    '-c',
    '-r',
    options.baseUrl,
    '-k',
    options.publicKey,
    '-N',
    options.fqrn,
    '-t',
    temp,
  ];
  if (options.tag !== undefined) args.push('-n', options.tag);
  return runAsync(client.swissknife!, args, clientEnv(client), 120_000);
}

/**
 * An archive of the client's files for a boot image (usr/bin/cvmfs2 and its libraries), when
 * this machine has one: $UCVM_CVMFS_CLIENT_ARCHIVE, else /opt/cvmfs/cvmfs-client-*.tar.gz.
 */
export function findClientArchive(): string | undefined {
  const fromEnv = process.env.UCVM_CVMFS_CLIENT_ARCHIVE;
  if (fromEnv !== undefined && fromEnv !== '') return existsSync(fromEnv) ? fromEnv : undefined;
  const dir = '/opt/cvmfs';
  if (!existsSync(dir)) return undefined;
  const found = readdirSync(dir)
    .filter((name) => /^cvmfs-client-.*\.tar(\.gz|\.xz|\.zst)?$/.test(name))
    .sort();
  return found.length === 0 ? undefined : path.join(dir, found[found.length - 1]!);
}

export const CLIENT_ARCHIVE_SKIP_REASON =
  'no archive of the real cvmfs2 client for a boot image here (set UCVM_CVMFS_CLIENT_ARCHIVE, or put cvmfs-client-<version>.tar.gz in /opt/cvmfs); skipped, not passed';
