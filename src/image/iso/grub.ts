import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { runFromTree } from '../initramfs/tree-exec.js';

/** What GRUB needs to find its configuration and boot Linux from the ISO, on BIOS and UEFI. */
const COMMON_MODULES = [
  'iso9660',
  'part_msdos',
  'part_gpt',
  'fat',
  'normal',
  'configfile',
  'search',
  'search_fs_file',
  'linux',
  'echo',
  'test',
  'serial',
  'terminal',
  'sleep',
];
const PLATFORM_MODULES = { 'i386-pc': ['biosdisk'], 'x86_64-efi': ['efi_gop', 'efi_uga'] } as const;

export type GrubPlatform = keyof typeof PLATFORM_MODULES;

/** The file whose presence marks the boot medium (and that the init recognises it by). */
export const BOOT_SENTINEL = '/.ucernvm_boot_loader';

/**
 * Runs grub-mkimage from the pinned grub-common through the tree's own loader and libraries,
 * so that the tool is the same GRUB as the module directories and nothing of the build host
 * enters the image.
 */
export async function grubImage(
  tree: string,
  platform: GrubPlatform,
  work: string,
  out: string,
): Promise<void> {
  const early = path.join(work, `early-${platform}.cfg`);
  await writeFile(
    early,
    `search --no-floppy --set=root --file ${BOOT_SENTINEL}\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n`,
  );
  const format = platform === 'i386-pc' ? 'i386-pc-eltorito' : 'x86_64-efi';
  const args = [
    '-O',
    format,
    '-d',
    path.join(tree, 'usr/lib/grub', platform),
    '-p',
    '/boot/grub',
    '-c',
    early,
    '-o',
    out,
    ...COMMON_MODULES,
    ...PLATFORM_MODULES[platform],
  ];
  await runFromTree(tree, 'usr/bin/grub-mkimage', args).catch((error: unknown) => {
    throw new UcvmError('BUILD_FAILED', `grub-mkimage could not make the ${platform} boot image`, {
      details: `${String(error)}\ngrub-common, grub-pc-bin and grub-efi-amd64-bin must be in pipeline/image.yaml.`,
      cause: error,
    });
  });
}

export interface MenuEntry {
  title: string;
  cmdline: string;
}

/** The boot menu: short, on the serial line and the screen, the first entry by default. */
export function grubConfig(entries: readonly MenuEntry[], timeoutSeconds = 2): string {
  const lines = [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    `set timeout=${timeoutSeconds}`,
    'set default=0',
    '',
  ];
  for (const entry of entries) {
    lines.push(
      `menuentry ${grubQuote(entry.title)} {`,
      `  linux /ucvm/vmlinuz ${entry.cmdline.split(' ').filter(Boolean).map(grubQuote).join(' ')}`,
      '  initrd /ucvm/initrd',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** GRUB script quoting: `;`, `|` and the like in a proxy list are words, not syntax. */
function grubQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=,@+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
