import { isUcvmError, UcvmError } from '../errors.js';
import { run } from '../exec/index.js';
import type { Logger } from '../log.js';
import { syncFileSystem } from '../native/sync.js';
import type { LocalRepo } from './local-repo.js';

/**
 * How mmdebstrap gets root inside the tree: `root` chroots (needs root and dpkg in the pinned
 * set; what a real OS uses), `unshare` does the same in a user namespace (non-root builders),
 * `chrootless` runs the machine's dpkg with `--root` (only for packages whose maintainer
 * scripts support DPKG_ROOT; the hermetic tests use it).
 */
export type InstallMode = 'root' | 'unshare' | 'chrootless';

export interface InstallRequest {
  /** Directory to create (must not exist yet). */
  target: string;
  repo: LocalRepo;
  architecture: string;
  /** `name=version` of the meta package. */
  include: string;
  mode: InstallMode;
  sourceDateEpoch: number;
}

/**
 * The mmdebstrap command line. `--variant=essential` installs the Essential:yes packages of the
 * private repository (all pinned: the closure check saw to that) with dpkg, then the meta
 * package and through its `=` dependencies every other pinned package with apt. The only
 * source is the private repository with one version of each package, so apt has no choice.
 */
export function mmdebstrapArgs(request: InstallRequest): string[] {
  return [
    `--mode=${request.mode}`,
    '--variant=essential',
    '--format=directory',
    // Bookworm's essential set needs a merged /usr: set it up the debootstrap way when the
    // pinned set has usr-is-merged (the private repository holds only pinned packages), and
    // leave it to the usrmerge package otherwise.
    '--hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr',
    `--architectures=${request.architecture}`,
    // The tree is a staging area, made durable once when complete (see syncTree): an fsync
    // per unpacked file, dpkg's default, only slows the build.
    '--dpkgopt=force-unsafe-io',
    `--include=${request.include}`,
    '--verbose',
    request.repo.suite,
    request.target,
    request.repo.sourceLine,
  ];
}

/** The environment of the installation: fixed locale, time zone and SOURCE_DATE_EPOCH. */
export function installEnvironment(
  sourceDateEpoch: number,
  path = process.env.PATH ?? '',
): Record<string, string> {
  const dirs = path.split(':').filter((dir) => dir !== '');
  for (const dir of [
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
    '/usr/local/bin',
    '/usr/bin',
    '/bin',
  ]) {
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return {
    SOURCE_DATE_EPOCH: String(sourceDateEpoch),
    LC_ALL: 'C.UTF-8',
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    DEBIAN_FRONTEND: 'noninteractive',
    PATH: dirs.join(':'),
  };
}

/** Runs mmdebstrap; a failure becomes BUILD_FAILED with the end of its output. */
export async function installPackages(request: InstallRequest, logger: Logger): Promise<void> {
  const args = mmdebstrapArgs(request);
  logger.debug('running mmdebstrap', { args: args.join(' ') });
  try {
    const { stderr } = await run('mmdebstrap', args, {
      env: installEnvironment(request.sourceDateEpoch),
    });
    logger.debug('mmdebstrap finished', { lines: stderr.split('\n').length });
  } catch (error) {
    if (!isUcvmError(error, 'COMMAND_FAILED')) throw error;
    throw new UcvmError('BUILD_FAILED', `installing the packages with mmdebstrap failed`, {
      details: `${error.details ?? error.message}\nThe closure check passed, so this is a maintainer script or an environment problem (mode ${request.mode}).`,
      cause: error,
    });
  }
}

/** Flushes a finished tree to disk at once (one syncfs instead of dpkg's fsync per file). */
export async function syncTree(dir: string): Promise<void> {
  await syncFileSystem(dir);
}
