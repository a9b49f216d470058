import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { UcvmError } from '../errors.js';
import { defaultKeysDir, keyPaths, loadPublicKey } from '../keys/index.js';
import { createEmbeddedPublisher, type EmbeddedPublisher } from '../publisher/embedded/index.js';
import { Repository } from '../reader/repository.js';
import { fqrnOfLocation, openSource } from '../reader/source.js';
import { cliLogger } from './output.js';

export interface RepoOptions {
  keys?: string;
  spool?: string;
  fqrn?: string;
  json?: boolean;
  wait?: string;
  rollingTag?: string[];
  xattrs?: boolean;
}

/** Options every command that writes a repository accepts. */
export function addWriterOptions(command: Command): Command {
  return command
    .option(
      '--keys <dir>',
      'directory holding <fqrn>.masterkey/.pub/.key/.crt (default: $UCVM_KEYS_DIR or ~/.ucvm/keys)',
    )
    .option('--fqrn <name>', 'repository name (default: the storage directory name)')
    .option(
      '--spool <dir>',
      'publisher cache directory (default: $UCVM_SPOOL_DIR or ~/.cache/ucvm/spool/…)',
    )
    .option(
      '--wait <seconds>',
      'queue behind another writer for up to this long instead of failing',
      '0',
    )
    .option('--json', 'print the result as JSON');
}

export function openPublisher(storage: string, options: RepoOptions): EmbeddedPublisher {
  const wait = Number(options.wait ?? '0');
  if (!Number.isFinite(wait) || wait < 0)
    throw new UcvmError('USAGE', `--wait must be a number of seconds, got ${options.wait}`);
  return createEmbeddedPublisher({
    storage,
    keysDir: options.keys ?? defaultKeysDir(),
    ...(options.fqrn !== undefined && { fqrn: options.fqrn }),
    ...(options.spool !== undefined && { spoolDir: options.spool }),
    ...(options.rollingTag !== undefined && { rollingTags: options.rollingTag }),
    ...(options.xattrs === false && { xattrs: false }),
    lockWaitMs: wait * 1000,
    logger: cliLogger({ quiet: options.json === true }),
  });
}

/** Splits `<repo>@<tag>`; without `@` the tag is `trunk`. */
export function parseRepoRef(text: string): { location: string; ref: string } {
  const at = text.lastIndexOf('@');
  if (at > 0 && !text.slice(at + 1).includes('/'))
    return { location: text.slice(0, at), ref: text.slice(at + 1) };
  return { location: text, ref: 'trunk' };
}

export async function openRepository(location: string): Promise<Repository> {
  return Repository.open(openSource(location));
}

/** The master public key: --key, else <keys dir>/<fqrn>.pub if it exists. */
export async function masterKeysFor(
  location: string,
  options: { key?: string; keys?: string; fqrn?: string },
): Promise<KeyObject[]> {
  if (options.key !== undefined) return [await loadPublicKey(options.key)];
  const candidate = keyPaths(
    options.keys ?? defaultKeysDir(),
    options.fqrn ?? fqrnOfLocation(location),
  ).masterPublicKey;
  return existsSync(candidate) ? [await loadPublicKey(candidate)] : [];
}
