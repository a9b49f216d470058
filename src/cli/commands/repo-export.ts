import type { Command } from 'commander';
import { UcvmError } from '../../errors.js';
import { mkdir, stat } from 'node:fs/promises';
import {
  exportSquashfs,
  recordOnShelf,
  shelfImage,
  type SquashfsCompression,
} from '../../export/index.js';
import { emit } from '../output.js';
import { addReadOptions, openRepository, parseRepoRef, type ReadOptions } from '../repo-options.js';

interface ExportOptions extends ReadOptions {
  format: string;
  out?: string;
  shelf?: string;
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
      .option(
        '--shelf <dir>',
        'write <root hash>.squashfs into a shelf and record the tag in its index',
      )
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
        'A shelf (--shelf, instead of --out) is what a boot image with --root-source squashfs',
        'reads at <repository URL>/exports/: one image per root hash (exported once) and the index',
        '`tags` with "<tag> <root hash> <sha256> <bytes>" lines.',
        '',
        'Exit status: 0 exported and checked, 1 failed, 2 bad input.',
        '',
        'Examples:',
        '  $ ucvm repo export srv/os.example.org@cernvm-system-1.2.0 --format squashfs --out os-1.2.0.squashfs',
        '  $ ucvm repo export http://127.0.0.1:8080/cvmfs/os.example.org@HEAD --out os.squashfs --key keys/os.example.org.pub --json',
        '  $ ucvm repo export srv/os.example.org@HEAD --shelf srv/os.example.org/exports',
      ].join('\n'),
    )
    .action(async (refText: string, options: ExportOptions) => {
      if (options.format !== 'squashfs')
        throw new UcvmError('USAGE', `--format ${options.format} is not supported`, {
          details: 'The one format is squashfs.',
        });
      if ((options.out === undefined || options.out === '') === (options.shelf === undefined))
        throw new UcvmError('USAGE', 'give either --out <file> or --shelf <dir>', {
          details:
            'Name the image file to write (--out os.squashfs), or a shelf directory (--shelf).',
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
        if (options.shelf !== undefined) {
          const image = shelfImage(options.shelf, snapshot.rootHash);
          await mkdir(options.shelf, { recursive: true });
          const exists = await stat(image).then(
            () => true,
            () => false,
          );
          // One image per root hash: a tag that moves to a snapshot already on the shelf only moves in the index.
          if (!exists)
            await exportSquashfs(snapshot, {
              out: image,
              compression: options.comp as SquashfsCompression,
            });
          const entry = await recordOnShelf(options.shelf, ref, snapshot.rootHash);
          emit(
            options.json === true,
            { ref, verified: repository.verified, exported: !exists, ...entry },
            () =>
              `${exists ? 'already on the shelf' : 'exported'}: ${ref} → ${image} (${entry.bytes} bytes, sha256 ${entry.sha256})`,
          );
          return;
        }
        const result = await exportSquashfs(snapshot, {
          out: options.out!,
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
