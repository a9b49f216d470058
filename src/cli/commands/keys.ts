import type { Command } from 'commander';
import { resolve } from 'node:path';
import { fqrnProblem } from '../../cvmfs/fqrn.js';
import { UcvmError } from '../../errors.js';
import { checkKeysOutsideStorage, createKeys, defaultKeysDir } from '../../keys/index.js';
import { emit } from '../output.js';
import { addWriterOptions, openPublisher, type RepoOptions } from '../repo-options.js';

function days(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new UcvmError('USAGE', `--days must be a positive number, got ${text}`);
  return value;
}

export function registerKeysCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description('create and renew the signing keys of a repository');

  keys
    .command('init')
    .description(
      'create the master key pair, the repository key and certificate, and a signed whitelist',
    )
    .argument('<repo>', 'storage directory of the repository (its name is the repository name)')
    .option('--keys <dir>', 'where to write the keys (default: $UCVM_KEYS_DIR or ~/.ucvm/keys)')
    .option('--fqrn <name>', 'repository name (default: the storage directory name)')
    .option('--days <n>', 'whitelist validity in days', '30')
    .option('--force', 'replace existing keys')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm keys init srv/os.example.org --keys /etc/ucvm/keys\n  $ ucvm keys init srv/os.example.org --days 7',
    )
    .action(async (repo: string, options: RepoOptions & { days: string; force?: boolean }) => {
      const storage = resolve(repo);
      const fqrn = options.fqrn ?? storage.slice(storage.lastIndexOf('/') + 1);
      const problem = fqrnProblem(fqrn);
      if (problem !== undefined)
        throw new UcvmError(
          'FQRN_INVALID',
          `${JSON.stringify(fqrn)} is not a valid repository name: ${problem}`,
        );
      const validity = days(options.days);
      await checkKeysOutsideStorage(options.keys ?? defaultKeysDir(), storage);
      const paths = await createKeys(options.keys ?? defaultKeysDir(), fqrn, {
        force: options.force === true,
      });
      const expires = await openPublisher(storage, options).resign(validity);
      emit(
        options.json === true,
        { fqrn, keys: paths, whitelistExpiresAt: expires.toISOString() },
        () =>
          [
            `created keys for ${fqrn} in ${paths.dir}`,
            `  master public key  ${paths.masterPublicKey}  (give this to clients)`,
            `  certificate        ${paths.certificate}`,
            `  private keys       ${paths.masterKey}, ${paths.certificateKey} (0600, keep secret)`,
            `whitelist valid until ${expires.toISOString()}`,
          ].join('\n'),
      );
    });

  addWriterOptions(
    keys
      .command('resign')
      .description('renew the whitelist (needs the master key); do this before it expires')
      .argument('<repo>', 'storage directory of the repository')
      .option('--days <n>', 'validity in days', '30'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ucvm keys resign srv/os.example.org\n  $ ucvm keys resign srv/os.example.org --days 7 --json',
    )
    .action(async (repo: string, options: RepoOptions & { days: string }) => {
      const publisher = openPublisher(repo, options);
      const expires = await publisher.resign(days(options.days));
      emit(
        options.json === true,
        { fqrn: publisher.fqrn, whitelistExpiresAt: expires.toISOString() },
        () => `whitelist of ${publisher.fqrn} valid until ${expires.toISOString()}`,
      );
    });
}
