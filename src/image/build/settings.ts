import { UcvmError } from '../../errors.js';
import type { PipelineConfig, RepositorySettings } from '../../pipeline/schema.js';

export type RootSource = 'cvmfs' | 'squashfs';

/** What one channel's image boots by default: it goes on the kernel command line and into /etc/ucvm/image.conf. */
export interface BootSettings {
  repository: string;
  servers: string[];
  proxy: string;
  tag: string;
  rootSource: RootSource;
}

// The same rules the init applies (lib/userdata.sh), so an image never carries what its own init would refuse.
const checks: Record<string, RegExp> = {
  repository: /^[a-z0-9][a-z0-9.-]*$/,
  server: /^[A-Za-z0-9.:/_@%-]+$/,
  proxy: /^[A-Za-z0-9.:/,;|_@%-]+$/,
  tag: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
};

export function bootSettings(
  pipeline: PipelineConfig,
  repository: RepositorySettings,
  rootSource: RootSource,
): BootSettings {
  const servers = (
    pipeline.image?.servers ?? (repository.url === undefined ? [] : [repository.url])
  ).map((server) => server.replace(/\/+$/, ''));
  if (servers.length === 0)
    throw new UcvmError(
      'PIPELINE_INVALID',
      `${repository.name} has no url and pipeline.yaml names no image.servers`,
      {
        details:
          'The VMs need to know where to read the repository: set the repository url or image.servers.',
      },
    );
  const settings: BootSettings = {
    repository: repository.name,
    servers,
    proxy: pipeline.image?.proxy ?? 'DIRECT',
    tag: repository.rollingTag ?? 'HEAD',
    rootSource,
  };
  check('repository', settings.repository, checks.repository!);
  for (const server of servers) check('image.servers', server, checks.server!);
  check('image.proxy', settings.proxy, checks.proxy!);
  check('rollingTag', settings.tag, checks.tag!);
  return settings;
}

function check(field: string, value: string, pattern: RegExp): void {
  if (!pattern.test(value))
    throw new UcvmError(
      'PIPELINE_INVALID',
      `${field} ${JSON.stringify(value)} cannot go on a kernel command line`,
      {
        details:
          'The boot steering accepts only the characters a repository name, server URL, proxy list or tag may have.',
        where: { file: 'pipeline/pipeline.yaml', path: field },
      },
    );
}

/** The kernel parameters the init reads (lib/settings.sh). */
export function settingsCmdline(settings: BootSettings): string {
  return [
    `ucvm.repository=${settings.repository}`,
    `ucvm.server=${settings.servers.join(',')}`,
    `ucvm.proxy=${settings.proxy}`,
    `ucvm.tag=${settings.tag}`,
    `ucvm.root=${settings.rootSource}`,
  ].join(' ');
}

/** /etc/ucvm/image.conf: the same defaults, for a kernel booted without this command line. */
export function settingsFile(settings: BootSettings): string {
  return [
    `cvmfs_branch=${settings.repository}`,
    `cvmfs_server=${settings.servers.join(',')}`,
    `cvmfs_http_proxy=${settings.proxy}`,
    `cvmfs_tag=${settings.tag}`,
    `root_source=${settings.rootSource}`,
    '',
  ].join('\n');
}
