import type { Command } from 'commander';
import { resolve } from 'node:path';
import { UcvmError } from '../../errors.js';
import { serveRepositories } from '../../serve/index.js';
import { emit } from '../output.js';
import { addWriterOptions, openPublisher, type RepoOptions } from '../repo-options.js';

/** Commands that create, tag, clean and serve repositories. */
export function registerRepoAdminCommands(repo: Command): void {
  addWriterOptions(
    repo
      .command('init')
      .description('create an empty, signed, mountable repository (creates keys if there are none)')
      .argument('<repo>', 'storage directory to create; its name is the repository name')
      .option('--days <n>', 'whitelist validity in days', '30')
      .option(
        '--rolling-tag <name...>',
        'tags that may move, recorded in the repository (default: HEAD); every other tag is immutable',
      ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo init srv/os.example.org --keys /etc/ucvm/keys\n  $ ucvm repo init /srv/cvmfs/cernvm-prod.example.org --json',
    )
    .action(async (storage: string, options: RepoOptions & { days: string }) => {
      const publisher = openPublisher(storage, options);
      const result = await publisher.init({ whitelistDays: Number(options.days) });
      emit(
        options.json === true,
        {
          fqrn: publisher.fqrn,
          storage: publisher.storage,
          keys: publisher.keysDir,
          rootHash: result.rootHash,
          whitelistExpiresAt: result.whitelistExpiresAt.toISOString(),
        },
        () =>
          [
            `created ${publisher.fqrn} in ${publisher.storage} (revision 1, empty)`,
            `  keys in ${publisher.keysDir}; clients need ${publisher.fqrn}.pub`,
            `  whitelist valid until ${result.whitelistExpiresAt.toISOString()}`,
          ].join('\n'),
      );
    });

  addWriterOptions(
    repo
      .command('tag')
      .description('point a tag at an existing snapshot, writing no catalog (promotion, rollback)')
      .argument('<repo>', 'storage directory of the repository')
      .argument('<name>', 'tag to create, or rolling tag to move')
      .argument('<target>', 'existing tag name or root catalog hash')
      .option('-m, --message <text>', "description (default: the target tag's)"),
  )
    .addHelpText(
      'after',
      '\nNamed tags are immutable; only the rolling tags recorded at `repo init` (--rolling-tag, default HEAD) move.\n\nExamples:\n  $ ucvm repo tag srv/os.example.org HEAD cernvm-system-1.2.0\n  $ ucvm repo tag srv/os.example.org HEAD cernvm-system-1.1.0   # roll back',
    )
    .action(
      async (
        storage: string,
        name: string,
        target: string,
        options: RepoOptions & { message?: string },
      ) => {
        const result = await openPublisher(storage, options).tag({
          name,
          target,
          ...(options.message !== undefined && { description: options.message }),
        });
        emit(options.json === true, result, () =>
          result.unchanged
            ? `${name} already points to ${result.rootHash}`
            : `${name} -> ${result.rootHash} (revision ${result.revision})${result.previousRootHash === undefined ? '' : `, was ${result.previousRootHash}`}`,
        );
      },
    );

  addWriterOptions(
    repo
      .command('check')
      .description(
        "record a check's result for a tag (e.g. a boot test), signed into the repository's history",
      )
      .argument('<repo>', 'storage directory of the repository')
      .argument('<tag>', 'the tag checked (the result is bound to the snapshot it holds now)')
      .argument('<name>', 'the check, as promotion gates name it (e.g. boot)')
      .option('--failed', 'record a failure (default: passed)')
      .option('--details <text>', 'a line of detail or a link to the log'),
  )
    .addHelpText(
      'after',
      '\nPromotion gates (pipeline.yaml `gates: { <channel>: { checks: [...] } }`) read these results.\n\nExamples:\n  $ ucvm repo check srv/cernvm-testing.example.org cernvm-system-1.2.0 boot --details https://ci.example.org/run/42',
    )
    .action(
      async (
        storage: string,
        tag: string,
        name: string,
        options: RepoOptions & { failed?: boolean; details?: string },
      ) => {
        if (!/^[a-z][a-z0-9-]{0,39}$/.test(name))
          throw new UcvmError(
            'USAGE',
            `check names are lower-case letters, digits and dashes, got ${JSON.stringify(name)}`,
          );
        await openPublisher(storage, options).recordCheck({
          tag,
          name,
          passed: options.failed !== true,
          ...(options.details !== undefined && { details: options.details }),
        });
        emit(
          options.json === true,
          { tag, check: name, passed: options.failed !== true },
          () => `recorded: ${name} ${options.failed === true ? 'failed' : 'passed'} for ${tag}`,
        );
      },
    );

  addWriterOptions(
    repo
      .command('untag')
      .description('remove a tag')
      .argument('<repo>', 'storage directory')
      .argument('<name>', 'tag to remove'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo untag srv/os.example.org generic-2026-01-01T00:00:00Z',
    )
    .action(async (storage: string, name: string, options: RepoOptions) => {
      await openPublisher(storage, options).removeTag(name);
      emit(options.json === true, { removed: name }, () => `removed tag ${name}`);
    });

  addWriterOptions(
    repo
      .command('gc')
      .description('remove objects no tag can reach (dry run unless --apply)')
      .argument('<repo>', 'storage directory of the repository')
      .option('--apply', 'really delete the unreachable objects'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo gc srv/os.example.org           # report only\n  $ ucvm repo gc srv/os.example.org --apply',
    )
    .action(async (storage: string, options: RepoOptions & { apply?: boolean }) => {
      const report = await openPublisher(storage, options).gc({ apply: options.apply === true });
      emit(options.json === true, report, () =>
        [
          `${report.tags} tags reach ${report.catalogs} catalogs and ${report.reachableObjects} objects`,
          report.dryRun
            ? `${report.unreachableObjects} unreachable objects (${(report.unreachableBytes / 1e6).toFixed(1)} MB) would be removed; run again with --apply`
            : `removed ${report.removedObjects} unreachable objects (${(report.unreachableBytes / 1e6).toFixed(1)} MB)`,
        ].join('\n'),
      );
    });

  repo
    .command('serve')
    .description('serve repositories over HTTP at /cvmfs/<fqrn>/ (tests and demos)')
    .argument('<repo...>', 'storage directories (each named after its repository)')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', '8080')
    .option(
      '--max-age <seconds>',
      'how long proxies may cache the manifest and whitelist (content objects: 3 days)',
      '61',
    )
    .option('--json', 'print the URL as JSON when ready')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm repo serve srv/os.example.org --port 8080\n  # client: CVMFS_SERVER_URL=http://127.0.0.1:8080/cvmfs/@fqrn@',
    )
    .action(
      async (
        storages: string[],
        options: { host: string; port: string; maxAge: string; json?: boolean },
      ) => {
        const port = Number(options.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new UcvmError('USAGE', `--port must be 0–65535, got ${options.port}`);
        const maxAge = Number(options.maxAge);
        if (!Number.isInteger(maxAge) || maxAge < 0)
          throw new UcvmError(
            'USAGE',
            `--max-age must be a whole number of seconds, got ${options.maxAge}`,
          );
        const repositories = new Map(
          storages.map((dir) => [resolve(dir).slice(resolve(dir).lastIndexOf('/') + 1), dir]),
        );
        const server = await serveRepositories({
          repositories,
          host: options.host,
          port,
          mutableMaxAge: maxAge,
          onError: (error) =>
            process.stderr.write(`warning: serving failed: ${(error as Error).message}\n`),
        });
        emit(
          options.json === true,
          { url: server.url, port: server.port, repositories: [...repositories.keys()] },
          () =>
            [...repositories.keys()]
              .map((fqrn) => `serving ${fqrn} at ${server.url}/${fqrn}`)
              .join('\n'),
        );
        await new Promise<void>((resolveStop) => {
          process.once('SIGINT', resolveStop);
          process.once('SIGTERM', resolveStop);
        });
        await server.close();
      },
    );
}
