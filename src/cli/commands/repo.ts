import type { Command } from 'commander';
import { entryKind, type CatalogEntry } from '../../cvmfs/catalog/entry.js';
import { hashToHex } from '../../cvmfs/hash.js';
import { diffSnapshots } from '../../reader/diff.js';
import { verifyRepository } from '../../reader/verify.js';
import { cliProgress } from '../progress.js';
import { emit } from '../output.js';
import {
  addWriterOptions,
  masterKeysFor,
  openPublisher,
  openRepository,
  parseRepoRef,
  type RepoOptions,
} from '../repo-options.js';
import { registerRepoAdminCommands } from './repo-admin.js';

function modeString(entry: CatalogEntry): string {
  const type = { directory: 'd', regular: '-', symlink: 'l', special: 'c' }[entryKind(entry)];
  const bits = 'rwxrwxrwx'
    .split('')
    .map((letter, i) => ((entry.mode >> (8 - i)) & 1 ? letter : '-'));
  return type + bits.join('');
}

function entryJson(entry: CatalogEntry): Record<string, unknown> {
  return {
    path: entry.path === '' ? '/' : entry.path,
    type: entryKind(entry),
    mode: `0${(entry.mode & 0o7777).toString(8)}`,
    size: entry.size,
    uid: entry.uid,
    gid: entry.gid,
    mtime: entry.mtime,
    ...(entry.hash !== undefined && { hash: hashToHex(entry.hash) }),
    ...(entry.chunks !== undefined && { chunks: entry.chunks.length }),
    ...(entry.symlink !== '' && { target: entry.symlink }),
    ...(entry.xattrs !== undefined && { xattrs: [...entry.xattrs.keys()] }),
  };
}

export function registerRepoCommands(program: Command): void {
  const repo = program
    .command('repo')
    .description('create, publish, inspect and serve CernVM-FS repositories');
  registerRepoAdminCommands(repo);

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

  repo
    .command('tags')
    .description('list the named snapshots (a directory or an http:// URL; no keys needed)')
    .argument('<repo>', 'storage directory or base URL')
    .option('--json', 'print the tags as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo tags srv/os.example.org\n  $ ucvm repo tags http://127.0.0.1:8080/cvmfs/os.example.org --json',
    )
    .action(async (location: string, options: { json?: boolean }) => {
      const repository = await openRepository(location);
      const tags = await repository.tags();
      emit(
        options.json === true,
        { revision: repository.manifest.revision, root: repository.manifest.rootCatalog, tags },
        () =>
          tags
            .map(
              (tag) =>
                `${tag.name.padEnd(32)} r${String(tag.revision).padEnd(5)} ${new Date(tag.timestamp * 1000).toISOString()}  ${tag.hashHex}  ${tag.description}`,
            )
            .join('\n'),
      );
      repository.close();
    });

  repo
    .command('ls')
    .description('list a directory of a snapshot')
    .argument('<repo@tag>', 'repository (directory or URL) and tag; without @tag: trunk')
    .argument('[path]', 'path inside the repository', '/')
    .option('--json', 'print entries as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo ls srv/os.example.org@cernvm-system-1.2.0 /etc\n  $ ucvm repo ls http://127.0.0.1:8080/cvmfs/os.example.org@HEAD / --json',
    )
    .action(async (refText: string, path: string, options: { json?: boolean }) => {
      const { location, ref } = parseRepoRef(refText);
      const repository = await openRepository(location);
      const entries = await (await repository.snapshot(ref)).list(path);
      emit(options.json === true, entries.map(entryJson), () =>
        entries
          .map(
            (e) =>
              `${modeString(e)} ${String(e.uid).padStart(5)} ${String(e.gid).padStart(5)} ${String(e.size).padStart(10)} ${new Date(e.mtime * 1000).toISOString().slice(0, 19)} ${e.path.slice(e.path.lastIndexOf('/') + 1)}${e.symlink === '' ? '' : ` -> ${e.symlink}`}`,
          )
          .join('\n'),
      );
      repository.close();
    });

  repo
    .command('cat')
    .description('write a file of a snapshot to stdout')
    .argument('<repo@tag>', 'repository (directory or URL) and tag')
    .argument('<path>', 'file inside the repository')
    .addHelpText('after', '\nExamples:\n  $ ucvm repo cat srv/os.example.org@HEAD /etc/os-release')
    .action(async (refText: string, path: string) => {
      const { location, ref } = parseRepoRef(refText);
      const repository = await openRepository(location);
      process.stdout.write(await (await repository.snapshot(ref)).readFile(path));
      repository.close();
    });

  repo
    .command('diff')
    .description('compare two snapshots: files added, removed and changed, and bytes')
    .argument('<from>', 'repository@tag')
    .argument('<to>', 'repository@tag (may be another repository)')
    .option('--json', 'print the changes as JSON')
    .option('--summary', 'print only the totals')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo diff srv/os.example.org@cernvm-system-1.1.0 srv/os.example.org@cernvm-system-1.2.0\n  $ ucvm repo diff srv/dev.example.org@HEAD srv/prod.example.org@HEAD --summary',
    )
    .action(
      async (fromText: string, toText: string, options: { json?: boolean; summary?: boolean }) => {
        const from = parseRepoRef(fromText);
        const to = parseRepoRef(toText);
        const fromRepo = await openRepository(from.location);
        const toRepo = from.location === to.location ? fromRepo : await openRepository(to.location);
        const diff = await diffSnapshots(
          await fromRepo.snapshot(from.ref),
          await toRepo.snapshot(to.ref),
        );
        const s = diff.summary;
        emit(options.json === true, options.summary === true ? { summary: s } : diff, () => {
          const lines =
            options.summary === true
              ? []
              : diff.changes.map(
                  (c) =>
                    `${{ added: 'A', removed: 'D', modified: 'M' }[c.change]} ${c.path}${c.fields === undefined ? '' : ` (${c.fields.join(', ')})`}`,
                );
          lines.push(
            `${s.added} added, ${s.removed} removed, ${s.modified} changed; +${s.bytesAdded} -${s.bytesRemoved} bytes, ${s.bytesChanged} bytes of new content, net ${s.bytesDelta >= 0 ? '+' : ''}${s.bytesDelta}`,
          );
          return lines.join('\n');
        });
        fromRepo.close();
        if (toRepo !== fromRepo) toRepo.close();
      },
    );

  repo
    .command('verify')
    .description('check signatures, whitelist expiry, catalogs and every object of every tag')
    .argument('<repo>', 'storage directory or base URL')
    .option('--key <file>', 'master public key (default: <keys>/<fqrn>.pub if present)')
    .option('--keys <dir>', 'key directory to look for <fqrn>.pub in')
    .option('--fqrn <name>', 'expected repository name (default: the last path component)')
    .option('--no-objects', 'skip downloading and hashing every object')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExit status: 0 verified, 1 problems found.\n\nExamples:\n  $ ucvm repo verify srv/os.example.org --key keys/os.example.org.pub\n  $ ucvm repo verify http://127.0.0.1:8080/cvmfs/os.example.org --json',
    )
    .action(
      async (
        location: string,
        options: { key?: string; keys?: string; fqrn?: string; objects: boolean; json?: boolean },
      ) => {
        const repository = await openRepository(location);
        const report = await verifyRepository(repository, {
          masterKeys: await masterKeysFor(location, options),
          now: new Date(),
          fqrn: options.fqrn ?? repository.manifest.fqrn,
          objects: options.objects,
        });
        repository.close();
        emit(options.json === true, report, () =>
          [
            report.ok
              ? `verified: revision ${report.revision}, ${report.tags} tags, ${report.catalogs} catalogs, ${report.objects} objects`
              : `FAILED: ${report.problems.length} problems`,
            ...report.problems.map((p) => `  problem: ${p}`),
            ...report.warnings.map((w) => `  warning: ${w}`),
            `  whitelist expires ${report.whitelistExpiresAt ?? 'unknown'}`,
          ].join('\n'),
        );
        if (!report.ok) process.exitCode = 1;
      },
    );
}
