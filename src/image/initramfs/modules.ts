import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { moduleClosure, parseModulesBuiltin, parseModulesDep } from '../closure/modules.js';
import type { ModuleClosure } from '../closure/modules.js';
import { runFromTree } from './tree-exec.js';

/**
 * The drivers the init needs (ucernvm.md §2.2, today's names): paravirtual disks and NICs of
 * the common hypervisors and clouds, the CD drive of an ISO boot, FUSE for the client,
 * overlayfs for the union, ext4 for the scratch disk, iso9660 and vfat (with their code pages)
 * for context drives, squashfs and loop for an exported snapshot. A kernel that builds one in,
 * or lacks it (the cloud flavour has no drivers for some hardware), is fine: the build reports it.
 */
export const INIT_MODULES = [
  'virtio_pci',
  'virtio_blk',
  'virtio_scsi',
  'virtio_net',
  'virtio_console',
  'nvme',
  'sd_mod',
  'sr_mod',
  'ata_piix',
  'ahci',
  'ata_generic',
  'xen_blkfront',
  'xen_netfront',
  'hv_storvsc',
  'hv_netvsc',
  'vmw_pvscsi',
  'vmxnet3',
  'ena',
  'gve',
  'e1000',
  'e1000e',
  'fuse',
  'overlay',
  'ext4',
  'crc32c_generic',
  'isofs',
  'vfat',
  'nls_cp437',
  'nls_ascii',
  'nls_iso8859_1',
  'nls_utf8',
  'squashfs',
  'loop',
] as const;

export interface KernelTree {
  version: string;
  /** The kernel image, a path in the unpacked tree. */
  vmlinuz: string;
  modulesDir: string;
}

/** The one kernel of the unpacked packages: /boot/vmlinuz-<v> and /lib/modules/<v>. */
export async function findKernel(tree: string): Promise<KernelTree> {
  const versions = await readdir(path.join(tree, 'lib', 'modules')).catch(() => [] as string[]);
  if (versions.length !== 1)
    throw new UcvmError(
      'BUILD_FAILED',
      `expected one kernel in the image's packages, found ${versions.length}`,
      {
        details: `Kernel module trees: ${versions.join(', ') || '(none)'}. pipeline/image.yaml's kernel must lead to one linux-image package.`,
      },
    );
  const version = versions[0]!;
  return {
    version,
    vmlinuz: path.join(tree, 'boot', `vmlinuz-${version}`),
    modulesDir: path.join(tree, 'lib', 'modules', version),
  };
}

/**
 * modules.dep is made by depmod when the kernel package is installed, not shipped in it: run
 * the pinned kmod's depmod on the unpacked tree (kmod must be among the programs).
 */
export async function initModules(
  tree: string,
  kernel: KernelTree,
  extra: readonly string[],
): Promise<ModuleClosure> {
  await runFromTree(tree, 'bin/kmod', ['-b', tree, kernel.version], 'depmod').catch(
    (error: unknown) => {
      throw new UcvmError(
        'BUILD_FAILED',
        `depmod could not index the modules of ${kernel.version}`,
        {
          details: `${String(error)}
kmod must be among the programs of pipeline/image.yaml.`,
          cause: error,
        },
      );
    },
  );
  const dep = parseModulesDep(await readFile(path.join(kernel.modulesDir, 'modules.dep'), 'utf8'));
  const builtinText = await readFile(path.join(kernel.modulesDir, 'modules.builtin'), 'utf8').catch(
    () => '',
  );
  return moduleClosure(dep, parseModulesBuiltin(builtinText), [...INIT_MODULES, ...extra]);
}
