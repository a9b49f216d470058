import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { UcvmError } from '../errors.js';
import { defaultKeysDir, keyPaths, loadPublicKey } from '../keys/index.js';
import { createEmbeddedPublisher, type EmbeddedPublisher } from '../publisher/embedded/index.js';
import type { HttpTimeouts } from '../reader/http.js';
import { openVerifiedRepository } from '../reader/open.js';
import { Repository } from '../reader/repository.js';
import { fqrnOfLocation, openSource } from '../reader/source.js';
import { isS3Location, openS3Source, type S3Connection } from '../storage/s3/index.js';
import { cliLogger } from './output.js';

/** How to reach an object store, for `s3://<bucket>/<prefix>` repositories. */
export interface S3Options {
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
}

export interface RepoOptions extends S3Options {
  keys?: string;
  spool?: string;
  fqrn?: string;
  json?: boolean;
  wait?: string;
  rollingTag?: string[];
  xattrs?: boolean;
}

/**
 * Options for a repository in a bucket. Credentials come from the standard AWS chain (the
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment, a profile, an instance role), never
 * from the command line, where any user of the machine could read them.
 */
export function addS3Options(command: Command): Command {
  return command
    .option(
      '--s3-endpoint <url>',
      'S3-compatible endpoint of an s3://<bucket>/<prefix> repository (default: $AWS_ENDPOINT_URL_S3, else AWS)',
    )
    .option('--s3-region <name>', 'region of the bucket (default: $AWS_REGION, else us-east-1)')
    .option('--s3-path-style', 'address the bucket as <endpoint>/<bucket> (most non-AWS stores)');
}

export function s3ConnectionOf(options: S3Options): S3Connection {
  return {
    ...(options.s3Endpoint !== undefined && { endpoint: options.s3Endpoint }),
    ...(options.s3Region !== undefined && { region: options.s3Region }),
    ...(options.s3PathStyle === true && { pathStyle: true }),
  };
}

/** Options every command that writes a repository accepts. */
export function addWriterOptions(command: Command): Command {
  return addS3Options(command)
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
    ...(isS3Location(storage) && { s3: s3ConnectionOf(options) }),
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

/** Options of every command that reads a repository. */
export interface ReadOptions extends S3Options {
  key?: string;
  keys?: string;
  fqrn?: string;
  verify?: boolean;
  timeout?: string;
  /** No --no-verify warning (verify reads what it checks itself). */
  quiet?: boolean;
}

export function addReadOptions(command: Command): Command {
  return addS3Options(command)
    .option('--key <file>', 'master public key to verify with (default: <keys>/<fqrn>.pub)')
    .option(
      '--keys <dir>',
      'key directory to find <fqrn>.pub in (default: $UCVM_KEYS_DIR or ~/.ucvm/keys)',
    )
    .option('--fqrn <name>', 'expected repository name (default: the last path component)')
    .option('--timeout <seconds>', 'for a server that stops answering (idle and connect)', '30')
    .option('--no-verify', 'read without checking signatures (loudly; never for what you trust)');
}

function timeoutsOf(options: ReadOptions): Partial<HttpTimeouts> {
  const seconds = Number(options.timeout ?? '30');
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UcvmError(
      'USAGE',
      `--timeout must be a positive number of seconds, got ${options.timeout}`,
    );
  return { idleMs: seconds * 1000, connectMs: seconds * 1000 };
}

/**
 * Opens a repository for reading: verified with the master public key unless `--no-verify`,
 * which warns on every use.
 */
export async function openRepository(
  location: string,
  options: ReadOptions = {},
): Promise<Repository> {
  const source = isS3Location(location)
    ? openS3Source(location, s3ConnectionOf(options))
    : openSource(location, timeoutsOf(options));
  const fqrn = options.fqrn ?? fqrnOfLocation(location);
  if (options.verify === false) {
    if (options.quiet !== true)
      process.stderr.write(
        `warning: --no-verify: ${location} is read WITHOUT checking its signatures; what it says may be forged\n`,
      );
    return Repository.open(source);
  }
  const masterKeys = await masterKeysFor(location, options);
  if (masterKeys.length === 0)
    throw new UcvmError('KEY_MISSING', `no master public key to verify ${fqrn} with`, {
      details: `Looked for ${keyPaths(options.keys ?? defaultKeysDir(), fqrn).masterPublicKey}. Pass --key <file> or --keys <dir>; --no-verify reads without checking (not for what you trust).`,
    });
  return openVerifiedRepository(source, { masterKeys, fqrn, allowExpired: true });
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
