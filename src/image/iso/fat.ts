import { stat, utimes } from 'node:fs/promises';
import { UcvmError } from '../../errors.js';
import { run } from '../../exec/index.js';

/**
 * The EFI system partition image: a small FAT file system holding /EFI/BOOT/BOOTX64.EFI.
 * mkfs.fat --invariant fixes the volume id and dates; mtools keeps the file's mtime (set to
 * SOURCE_DATE_EPOCH first) and takes the directories' from SOURCE_DATE_EPOCH.
 */
export async function efiImage(
  bootloader: string,
  out: string,
  sourceDateEpoch: number,
): Promise<void> {
  await utimes(bootloader, sourceDateEpoch, sourceDateEpoch);
  // Room for the loader and the FAT's own structures, no more: the ISO carries the image.
  const kib = Math.max(1440, Math.ceil((await stat(bootloader)).size / 1024) + 256);
  const env = { SOURCE_DATE_EPOCH: String(sourceDateEpoch), MTOOLS_SKIP_CHECK: '1', TZ: 'UTC' };
  const steps: Array<[string, string[]]> = [
    ['mkfs.fat', ['--invariant', '-C', '-n', 'UCVM_EFI', out, String(kib)]],
    ['mmd', ['-i', out, '::/EFI', '::/EFI/BOOT']],
    ['mcopy', ['-m', '-i', out, bootloader, '::/EFI/BOOT/BOOTX64.EFI']],
  ];
  for (const [tool, args] of steps) {
    await run(tool, args, { env: { ...process.env, ...env } }).catch((error: unknown) => {
      throw new UcvmError('BUILD_FAILED', `${tool} could not make the EFI boot image`, {
        details: `${String(error)}\nInstall dosfstools and mtools.`,
        cause: error,
      });
    });
  }
}
