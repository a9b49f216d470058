import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/**
 * A real CernVM-FS stratum 0 (`cvmfs_server`, built outside the project, never committed), when
 * this machine has one set up: the tools on /usr/bin (where cvmfs_server expects them), root,
 * overlayfs, and Apache serving http://localhost/cvmfs/.
 */
export function cvmfsServerSkipReason(): string | undefined {
  if (!existsSync('/usr/bin/cvmfs_server'))
    return 'cvmfs_server is not installed here (it is built outside the project); skipped, not passed';
  if (process.getuid?.() !== 0) return 'cvmfs_server tests need root; skipped, not passed';
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay'))
    return 'no overlayfs for cvmfs_server transactions; skipped, not passed';
  const apache = spawnSync(
    'curl',
    ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://localhost/'],
    {
      encoding: 'utf8',
    },
  );
  if (apache.status !== 0 || apache.stdout === '000')
    return 'no web server on http://localhost/ for the stratum 0 (start apache2); skipped, not passed';
  return undefined;
}

/**
 * A new stratum 0 repository owned by root, without automatic tags, with `settings` added to
 * its server.conf (as a site would set them); `remove` deletes it.
 */
export function makeServerRepository(
  fqrn: string,
  settings: Record<string, string> = {},
): { fqrn: string; remove(): void } {
  const remove = (): void => {
    spawnSync('cvmfs_server', ['rmfs', '-f', fqrn], { stdio: 'ignore' });
  };
  try {
    execFileSync('cvmfs_server', ['mkfs', '-o', 'root', '-g', fqrn], {
      stdio: 'ignore',
      input: '',
    });
  } catch (error) {
    // A failed mkfs can leave a half-made repository behind, which the next mkfs would refuse.
    remove();
    throw error;
  }
  const conf = `/etc/cvmfs/repositories.d/${fqrn}/server.conf`;
  appendFileSync(
    conf,
    Object.entries(settings)
      .map(([key, value]) => `${key}=${value}\n`)
      .join(''),
  );
  return { fqrn, remove };
}

/** A stratum 1's snapshot needs Apache's wsgi module too (cvmfs_server checks for it). */
export function replicaSkipReason(): string | undefined {
  return (
    cvmfsServerSkipReason() ??
    (existsSync('/etc/apache2/mods-enabled/wsgi.load')
      ? undefined
      : "Apache's wsgi module is not enabled (libapache2-mod-wsgi-py3), which cvmfs_server snapshot requires; skipped, not passed")
  );
}

/**
 * A stratum 1 replica of `url` on this machine (`add-replica -a -p`: files in /srv/cvmfs/<fqrn>,
 * no Apache configuration of its own, no GeoIP database); `snapshot` replicates once more. The
 * commands run asynchronously: the stratum 0 they read may be served from this very process.
 */
export async function makeReplica(
  fqrn: string,
  url: string,
  publicKey: string,
): Promise<{ dir: string; snapshot(): Promise<string>; remove(): void }> {
  const env = { ...process.env, CVMFS_GEO_DB_FILE: 'NONE' };
  const server = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile('cvmfs_server', args, { env, timeout: 300_000 }, (error, stdout, stderr) =>
        error === null
          ? resolve(stdout)
          : reject(new Error(`cvmfs_server ${args[0]} failed: ${stdout}${stderr}`)),
      );
    });
  await server(['add-replica', '-a', '-p', '-o', 'root', url, publicKey]);
  return {
    dir: `/srv/cvmfs/${fqrn}`,
    snapshot: () => server(['snapshot', fqrn]),
    remove: () => {
      spawnSync('cvmfs_server', ['rmfs', '-f', fqrn], { stdio: 'ignore' });
    },
  };
}
