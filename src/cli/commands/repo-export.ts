import type { Command } from 'commander';
import { UcvmError } from '../../errors.js';
import { exportSquashfs, type SquashfsCompression } from '../../export/index.js';
import { emit } from '../output.js';
import { addReadOptions, openRepository, parseRepoRef, type ReadOptions } from '../repo-options.js';

interface ExportOptions extends ReadOptions {
  format: string;
  out?: string;
  comp: string;
  json?: boolean;
}

const COMPRESSIONS: readonly SquashfsCompression[] = ['zstd', 'xz', 'gzip'];

/** `ucvm repo export`: a snapshot as a squashfs image, checked file by file. */
export function registerExportCommand(repo: Command): void {
  addReadOptions(
    repo
      .command('export')
      .description(
        'write a snapshot as a squashfs image (from the verified reader, no mount), checked file by file',
      )
      .argument('<repo@tag>', 'repository (directory or URL) and tag; without @tag: trunk')
      .option('--format <format>', 'image format (squashfs)', 'squashfs')
      .option('--out <file>', 'the image to write (replaced only once it checked out)')
      .option('--comp <algorithm>', 'squashfs compression: zstd, xz or gzip', 'zstd')
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText(
      'after',
      [
        '',
        'The tree is written into a private temporary directory, packed by mksquashfs (same',
        'snapshot, same bytes), extracted again by unsquashfs and compared with the snapshot:',
        'every path, type, mode, owner, mtime, size, link, device, xattr and the content of',
        'every file. A difference or a corrupt object fails the export and leaves no image.',
        '',
        'Exit status: 0 exported and checked, 1 failed, 2 bad input.',
        '',
        'Examples:',
        '  $ ucvm repo export srv/os.example.org@cernvm-system-1.2.0 --format squashfs --out os-1.2.0.squashfs',
        '  $ ucvm repo export http://127.0.0.1:8080/cvmfs/os.example.org@HEAD --out os.squashfs --key keys/os.example.org.pub --json',
      ].join('\n'),
    )
    .action(async (refText: string, options: ExportOptions) => {
      if (options.format !== 'squashfs')
        throw new UcvmError('USAGE', `--format ${options.format} is not supported`, {
          details: 'The one format is squashfs.',
        });
      if (options.out === undefined || options.out === '')
        throw new UcvmError('USAGE', '--out <file> is required', {
          details: 'Name the image file to write, e.g. --out os.squashfs.',
        });
      if (!(COMPRESSIONS as readonly string[]).includes(options.comp))
        throw new UcvmError(
          'USAGE',
          `--comp ${options.comp} is not one of ${COMPRESSIONS.join(', ')}`,
        );
      const { location, ref } = parseRepoRef(refText);
      const repository = await openRepository(location, options);
      try {
        const snapshot = await repository.snapshot(ref);
        const quiet = options.json === true;
        const result = await exportSquashfs(snapshot, {
          out: options.out,
          compression: options.comp as SquashfsCompression,
          onPhase: (phase) => {
            if (!quiet) process.stderr.write(`export: ${phase}\n`);
          },
        });
        emit(options.json === true, { ref, verified: repository.verified, ...result }, () =>
          [
            `exported ${location}@${ref} (root ${result.rootHash}) to ${result.out}`,
            `  ${result.entries} entries, ${result.files} files, ${result.bytes} bytes; image ${result.imageBytes} bytes (${result.compression}), sha256 ${result.imageSha256}`,
            `  checked ${result.checked} paths against the snapshot with unsquashfs; ${result.seconds} s`,
          ].join('\n'),
        );
      } finally {
        repository.close();
      }
    });
}
