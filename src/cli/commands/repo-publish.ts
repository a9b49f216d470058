import type { Command } from 'commander';
import { cliProgress } from '../progress.js';
import { emit } from '../output.js';
import { addWriterOptions, openPublisher, type RepoOptions } from '../repo-options.js';

export function registerPublishCommand(repo: Command): void {
  addWriterOptions(
    repo
      .command('publish')
      .description('publish a directory tree as a new signed revision with a named tag')
      .argument('<repo>', 'storage directory of the repository')
      .argument('<tree>', 'directory whose content becomes the new revision')
      .option('-t, --tag <name>', 'named snapshot to create (immutable); default: generic-<time>')
      .option('-m, --message <text>', 'description stored with the tag')
      .option('--dry-run', 'compute hashes and catalogs, write nothing')
      .option('--no-xattrs', 'do not publish extended attributes'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo publish srv/os.example.org build/tree --tag cernvm-system-1.2.0 -m "1.2.0"\n  $ ucvm repo publish srv/os.example.org build/tree --dry-run --json',
    )
    .action(
      async (
        storage: string,
        tree: string,
        options: RepoOptions & { tag?: string; message?: string; dryRun?: boolean },
      ) => {
        const publisher = openPublisher(storage, options);
        const result = await publisher.publish(
          {
            tree,
            ...(options.tag !== undefined && { tag: options.tag }),
            ...(options.message !== undefined && { description: options.message }),
            dryRun: options.dryRun === true,
          },
          cliProgress({ json: options.json === true }),
        );
        const s = result.stats;
        emit(options.json === true, result, () =>
          [
            result.unchanged
              ? `${result.tag} already holds exactly this tree (revision ${result.revision}); nothing written`
              : `${result.dryRun ? 'would publish' : 'published'} ${result.fqrn} revision ${result.revision} as ${result.tag}`,
            `  root catalog  ${result.rootHash}`,
            `  files         ${s.files} (${(s.bytes / 1e6).toFixed(1)} MB): ${s.unchangedFiles} unchanged, ${s.knownContent} known content`,
            `  objects       ${s.objectsWritten} written (${(s.bytesWritten / 1e6).toFixed(1)} MB)`,
            `  catalogs      ${s.catalogsWritten} written (${s.catalogsPatched} patched), ${s.catalogsReused} reused`,
            `  time          ${s.seconds.toFixed(1)} s`,
          ].join('\n'),
        );
      },
    );
}
