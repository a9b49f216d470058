import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { run } from '../../exec/index.js';

export interface IsoRequest {
  /** The tree the ISO holds: boot/grub/{grub.cfg,eltorito.img}, ucvm/{vmlinuz,initrd}, … */
  root: string;
  /** The FAT image with EFI/BOOT/BOOTX64.EFI, appended as the EFI system partition. */
  efiImage: string;
  /** GRUB's boot_hybrid.img (from the pinned grub-pc-bin): BIOS boot from a disk. */
  hybridMbr: string;
  volumeId: string;
  out: string;
  sourceDateEpoch: number;
}

/**
 * An El Torito ISO that boots with BIOS (GRUB's eltorito image) and with UEFI (the EFI
 * partition as the alternative boot entry), hybrid: written to a disk it boots from there too
 * (GRUB's MBR for BIOS; the EFI partition in the partition table for UEFI). xorriso takes
 * every date, the volume UUID and the GPT GUIDs from SOURCE_DATE_EPOCH, so the same inputs
 * give the same bytes.
 */
export async function writeIso(request: IsoRequest): Promise<void> {
  const args = [
    '-as',
    'mkisofs',
    '-o',
    request.out,
    '-R',
    '-V',
    request.volumeId,
    '--grub2-mbr',
    request.hybridMbr,
    '-partition_offset',
    '16',
    '--mbr-force-bootable',
    '-append_partition',
    '2',
    '0xef',
    request.efiImage,
    '-appended_part_as_gpt',
    '-c',
    'boot/boot.catalog',
    '-b',
    'boot/grub/eltorito.img',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    '--grub2-boot-info',
    '-eltorito-alt-boot',
    '-e',
    '--interval:appended_partition_2:all::',
    '-no-emul-boot',
    request.root,
  ];
  await run('xorriso', args, {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(request.sourceDateEpoch), TZ: 'UTC' },
  }).catch((error: unknown) => {
    throw new UcvmError('BUILD_FAILED', `xorriso could not write ${path.basename(request.out)}`, {
      details: `${String(error)}\nInstall xorriso (Debian package xorriso).`,
      cause: error,
    });
  });
}
