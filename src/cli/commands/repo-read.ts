import type { Command } from 'commander';
import { entryKind, type CatalogEntry } from '../../cvmfs/catalog/entry.js';
import { hashToHex } from '../../cvmfs/hash.js';
import { decodeProvenance } from '../../reconcile/provenance.js';
import { diffSnapshots } from '../../reader/diff.js';
import type { Repository } from '../../reader/repository.js';
import { fqrnOfLocation } from '../../reader/source.js';
import { compareReplica } from '../../reader/replica.js';
import { verifyRepository } from '../../reader/verify.js';
import { emit, printable } from '../output.js';
import {
  addReadOptions,
  addS3Options,
  masterKeysFor,
  openRepository,
  parseRepoRef,
  type ReadOptions,
  type S3Options,
} from '../repo-options.js';

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

/** A tag's description for people: a ucvm provenance as its summary and short identity. */
function describeTag(description: string): string {
  const provenance = decodeProvenance(description);
  if (provenance === undefined) return description;
  const identity = provenance.identity.slice('sha256:'.length, 'sha256:'.length + 12);
  const from = provenance.from === undefined ? '' : ` from ${provenance.from.repository}`;
  return `${provenance.summary ?? provenance.version} [identity ${identity}${provenance.commit === undefined ? '' : `, commit ${provenance.commit.slice(0, 12)}`}${from}]`;
}

/** Opens, runs, and closes whatever happens (a failure in the middle included). */
async function withRepository<T>(
  location: string,
  options: ReadOptions,
  work: (repository: Repository) => Promise<T>,
): Promise<T> {
  const repository = await openRepository(location, options);
  try {
    return await work(repository);
  } finally {
    repository.close();
  }
}

function registerTags(repo: Command): void {
  addReadOptions(
    repo
      .command('tags')
      .description(
        'list the named snapshots (a directory or an http:// URL; needs only the public key)',
      )
      .argument('<repo>', 'storage directory or base URL')
      .option('--json', 'print the tags as JSON'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo tags srv/os.example.org\n  $ ucvm repo tags http://127.0.0.1:8080/cvmfs/os.example.org --key keys/os.example.org.pub --json',
    )
    .action((location: string, options: ReadOptions & { json?: boolean }) =>
      withRepository(location, options, async (repository) => {
        const tags = await repository.tags();
        emit(
          options.json === true,
          {
            revision: repository.manifest.revision,
            root: repository.manifest.rootCatalog,
            verified: repository.verified,
            tags,
          },
          () =>
            tags
              .map(
                (tag) =>
                  `${printable(tag.name).padEnd(32)} r${String(tag.revision).padEnd(5)} ${new Date(tag.timestamp * 1000).toISOString()}  ${tag.hashHex}  ${printable(describeTag(tag.description))}`,
              )
              .join('\n'),
        );
      }),
    );
}

function registerLs(repo: Command): void {
  addReadOptions(
    repo
      .command('ls')
      .description('list a directory of a snapshot')
      .argument('<repo@tag>', 'repository (directory or URL) and tag; without @tag: trunk')
      .argument('[path]', 'path inside the repository', '/')
      .option('--json', 'print entries as JSON'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo ls srv/os.example.org@cernvm-system-1.2.0 /etc\n  $ ucvm repo ls http://127.0.0.1:8080/cvmfs/os.example.org@HEAD / --json',
    )
    .action((refText: string, path: string, options: ReadOptions & { json?: boolean }) => {
      const { location, ref } = parseRepoRef(refText);
      return withRepository(location, options, async (repository) => {
        const entries = await (await repository.snapshot(ref)).list(path);
        emit(options.json === true, entries.map(entryJson), () =>
          entries
            .map(
              (e) =>
                `${modeString(e)} ${String(e.uid).padStart(5)} ${String(e.gid).padStart(5)} ${String(e.size).padStart(10)} ${new Date(e.mtime * 1000).toISOString().slice(0, 19)} ${printable(e.path.slice(e.path.lastIndexOf('/') + 1))}${e.symlink === '' ? '' : ` -> ${printable(e.symlink)}`}`,
            )
            .join('\n'),
        );
      });
    });
}

function registerCat(repo: Command): void {
  addReadOptions(
    repo
      .command('cat')
      .description('write a file of a snapshot to stdout (streamed, checked as it goes)')
      .argument('<repo@tag>', 'repository (directory or URL) and tag')
      .argument('<path>', 'file inside the repository'),
  )
    .addHelpText('after', '\nExamples:\n  $ ucvm repo cat srv/os.example.org@HEAD /etc/os-release')
    .action((refText: string, path: string, options: ReadOptions) => {
      const { location, ref } = parseRepoRef(refText);
      return withRepository(location, options, async (repository) => {
        const snapshot = await repository.snapshot(ref);
        const entry = await snapshot.stat(path);
        if (entryKind(entry) !== 'regular') await snapshot.readFile(path);
        // A corrupt object fails the command (non-zero exit) even if some bytes were written.
        for await (const piece of snapshot.contentStream(entry)) {
          if (!process.stdout.write(piece))
            await new Promise((resolve) => process.stdout.once('drain', resolve));
        }
      });
    });
}

function registerDiff(repo: Command): void {
  addReadOptions(
    repo
      .command('diff')
      .description('compare two snapshots: files added, removed and changed, and bytes')
      .argument('<from>', 'repository@tag')
      .argument('<to>', 'repository@tag (may be another repository)')
      .option('--json', 'print the changes as JSON')
      .option('--summary', 'print only the totals')
      .option('--to-key <file>', 'master public key of the second repository (default: as --key)')
      .option('--to-keys <dir>', 'key directory of the second repository (default: as --keys)'),
  )
    .addHelpText(
      'after',
      '\nBoth repositories are verified with their own <fqrn>.pub (from --keys) unless --key names one key for both.\n\nExamples:\n  $ ucvm repo diff srv/os.example.org@cernvm-system-1.1.0 srv/os.example.org@cernvm-system-1.2.0\n  $ ucvm repo diff srv/dev.example.org@HEAD srv/prod.example.org@HEAD --summary',
    )
    .action(
      async (
        fromText: string,
        toText: string,
        options: ReadOptions & {
          json?: boolean;
          summary?: boolean;
          toKey?: string;
          toKeys?: string;
        },
      ) => {
        const from = parseRepoRef(fromText);
        const to = parseRepoRef(toText);
        const fromRepo = await openRepository(from.location, options);
        let toRepo: Repository | undefined;
        try {
          // --fqrn names the first repository; the second is named by its own location.
          toRepo =
            from.location === to.location
              ? fromRepo
              : await openRepository(to.location, {
                  ...options,
                  fqrn: undefined,
                  key: options.toKey ?? (options.toKeys === undefined ? options.key : undefined),
                  keys: options.toKeys ?? options.keys,
                });
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
                      `${{ added: 'A', removed: 'D', modified: 'M' }[c.change]} ${printable(c.path)}${c.fields === undefined ? '' : ` (${c.fields.join(', ')})`}`,
                  );
            lines.push(
              `${s.added} added, ${s.removed} removed, ${s.modified} changed; +${s.bytesAdded} -${s.bytesRemoved} bytes, ${s.bytesChanged} bytes of new content, net ${s.bytesDelta >= 0 ? '+' : ''}${s.bytesDelta}`,
            );
            return lines.join('\n');
          });
        } finally {
          fromRepo.close();
          if (toRepo !== undefined && toRepo !== fromRepo) toRepo.close();
        }
      },
    );
}

function registerVerify(repo: Command): void {
  addS3Options(repo.command('verify'))
    .description('check signatures, whitelist expiry, catalogs and every object of every tag')
    .argument('<repo>', 'storage directory or base URL')
    .option('--key <file>', 'master public key (default: <keys>/<fqrn>.pub)')
    .option('--keys <dir>', 'key directory to look for <fqrn>.pub in')
    .option('--fqrn <name>', 'expected repository name (default: the last path component)')
    .option('--timeout <seconds>', 'for a server that stops answering (idle and connect)', '30')
    .option('--no-objects', 'skip downloading and hashing every object')
    .option(
      '--url <replica>',
      'also compare a replica (stratum 1, mirror, bucket URL) with it: revision, root catalog, tags, every reachable object present',
    )
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExit status: 0 verified, 1 problems found (a missing master key is one).\n\nExamples:\n  $ ucvm repo verify srv/os.example.org --key keys/os.example.org.pub\n  $ ucvm repo verify http://127.0.0.1:8080/cvmfs/os.example.org --json\n  $ ucvm repo verify srv/os.example.org --url http://stratum1.example.org/cvmfs/os.example.org',
    )
    .action(
      async (
        location: string,
        options: {
          key?: string;
          keys?: string;
          fqrn?: string;
          timeout?: string;
          objects: boolean;
          url?: string;
          json?: boolean;
        } & S3Options,
      ) => {
        if (options.url !== undefined) {
          await verifyReplica(location, options.url, options);
          return;
        }
        // verify reads what it checks itself: it opens without trusting anything yet.
        const repository = await openRepository(location, {
          ...options,
          verify: false,
          quiet: true,
        });
        try {
          const report = await verifyRepository(repository, {
            masterKeys: await masterKeysFor(location, options),
            now: new Date(),
            fqrn: options.fqrn ?? fqrnOfLocation(location),
            objects: options.objects,
          });
          emit(options.json === true, report, () =>
            [
              report.ok
                ? `verified: revision ${report.revision}, ${report.tags} tags, ${report.catalogs} catalogs, ${report.objects} objects`
                : `FAILED: ${report.problems.length} problems`,
              ...report.problems.map((p) => `  problem: ${printable(p)}`),
              ...report.warnings.map((w) => `  warning: ${printable(w)}`),
              `  whitelist expires ${report.whitelistExpiresAt ?? 'unknown'}`,
            ].join('\n'),
          );
          if (!report.ok) process.exitCode = 1;
        } finally {
          repository.close();
        }
      },
    );
}

/** `verify --url`: the stratum 0 and its replica, both verified, then compared. */
async function verifyReplica(
  location: string,
  url: string,
  options: ReadOptions & { fqrn?: string; objects: boolean; json?: boolean },
): Promise<void> {
  const fqrn = options.fqrn ?? fqrnOfLocation(location);
  const stratum0 = await openRepository(location, options);
  try {
    const replica = await openRepository(url, { ...options, fqrn });
    try {
      const report = await compareReplica(stratum0, replica);
      emit(options.json === true, report, () =>
        [
          report.ok
            ? `the replica matches: revision ${report.replica.revision}, root ${report.replica.rootHash}, ${report.objects} objects present`
            : `FAILED: ${report.problems.length} problems`,
          `  stratum 0: ${report.stratum0.location} revision ${report.stratum0.revision}`,
          `  replica:   ${report.replica.location} revision ${report.replica.revision}`,
          ...report.problems.map((p) => `  problem: ${printable(p)}`),
        ].join('\n'),
      );
      if (!report.ok) process.exitCode = 1;
    } finally {
      replica.close();
    }
  } finally {
    stratum0.close();
  }
}

/** The commands that read repositories (each verifies what it reads first). */
export function registerRepoReadCommands(repo: Command): void {
  registerTags(repo);
  registerLs(repo);
  registerCat(repo);
  registerDiff(repo);
  registerVerify(repo);
}
