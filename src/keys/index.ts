import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { run } from '../exec/index.js';
import { UcvmError } from '../errors.js';
import { checkKeyDirectory, checkPrivateKeyFile, writeKeyFile } from './files.js';
import { keyPaths, type KeyPaths } from './paths.js';

export { defaultKeysDir, keyPaths, type KeyPaths } from './paths.js';

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

/** The stock certificate subject: the name cut to 30 characters, then "CernVM-FS Release Managers". */
export function certificateSubject(fqrn: string): string {
  const name = fqrn.length > 30 ? `${fqrn.slice(0, 30)}[...]` : fqrn;
  return `/CN=${name} CernVM-FS Release Managers`;
}

/**
 * Creates the master key pair, the repository key and its self-signed certificate. Private
 * keys are written 0600 in a 0700 directory of this user, never through a planted link;
 * their content is never printed.
 */
export async function createKeys(
  dir: string,
  fqrn: string,
  options: { force?: boolean } = {},
): Promise<KeyPaths> {
  const paths = keyPaths(dir, fqrn);
  if (options.force !== true) {
    for (const path of [paths.masterKey, paths.certificateKey, paths.certificate]) {
      if (await exists(path)) {
        throw new UcvmError('KEY_EXISTS', `keys for ${fqrn} exist already: ${path}`, {
          details:
            'Keys are never overwritten by accident. Pass --force to replace them (clients then need the new master public key).',
        });
      }
    }
  }
  await checkKeyDirectory(paths.dir, true);
  const master = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificateKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeKeyFile(
    paths.masterKey,
    master.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    0o600,
  );
  await writeKeyFile(
    paths.masterPublicKey,
    master.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    0o644,
  );
  await writeKeyFile(
    paths.certificateKey,
    certificateKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    0o600,
  );
  // openssl writes the certificate to stdout; we put it in place like the other files.
  const certificate = await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-sha256',
    '-days',
    '365',
    '-key',
    paths.certificateKey,
    '-subj',
    certificateSubject(fqrn),
  ]);
  await writeKeyFile(
    paths.certificate,
    certificate.stdout.endsWith('\n') ? certificate.stdout : `${certificate.stdout}\n`,
    0o644,
  );
  return paths;
}

async function readKeyFile(path: string, role: string, secret: boolean): Promise<string> {
  if (secret) {
    await checkKeyDirectory(dirname(path), false);
    await checkPrivateKeyFile(path);
  }
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new UcvmError('KEY_MISSING', `the ${role} is missing: ${path}`, {
      details:
        'Create keys with `ucvm keys init <repo>`, or point --keys (or UCVM_KEYS_DIR) at the directory that holds them.',
      where: { path },
    });
  }
}

/** Parses a key, or fails naming the file and never its content. */
function parseKey<T>(path: string, role: string, parse: () => T): T {
  try {
    return parse();
  } catch {
    throw new UcvmError('KEY_INVALID', `the ${role} ${path} is not a valid PEM key`, {
      details:
        'The file is corrupt or of another kind. Restore it, or create new keys with `ucvm keys init --force`.',
      where: { path },
    });
  }
}

export interface SigningKeys {
  certificateKey: KeyObject;
  certificatePem: string;
}

export async function loadSigningKeys(paths: KeyPaths): Promise<SigningKeys> {
  const certificatePem = await readKeyFile(paths.certificate, 'repository certificate', false);
  const pem = await readKeyFile(paths.certificateKey, 'repository key', true);
  const certificateKey = parseKey(paths.certificateKey, 'repository key', () =>
    createPrivateKey(pem),
  );
  return { certificateKey, certificatePem };
}

export async function loadMasterKey(paths: KeyPaths): Promise<KeyObject> {
  const pem = await readKeyFile(paths.masterKey, 'master key', true);
  return parseKey(paths.masterKey, 'master key', () => createPrivateKey(pem));
}

export async function loadPublicKey(path: string): Promise<KeyObject> {
  const pem = await readKeyFile(path, 'master public key', false);
  return parseKey(path, 'master public key', () => createPublicKey(pem));
}

/** The nearest existing ancestor of a path, resolved (the storage may not exist yet). */
async function realAncestor(path: string): Promise<string> {
  for (let current = resolve(path); ; current = dirname(current)) {
    const real = await realpath(current).catch(() => undefined);
    if (real !== undefined)
      return current === resolve(path)
        ? real
        : resolve(real, resolve(path).slice(current.length + 1));
    if (dirname(current) === current) return resolve(path);
  }
}

/**
 * Keys inside the storage would be served by any stock web server that serves it: refuse a
 * key directory equal to, or below, the storage directory (both resolved).
 */
export async function checkKeysOutsideStorage(keysDir: string, storage: string): Promise<void> {
  const keys = await realAncestor(keysDir);
  const served = await realAncestor(storage);
  if (keys === served || keys.startsWith(served + sep))
    throw new UcvmError(
      'KEY_LOCATION',
      `the key directory ${keysDir} is inside the storage ${storage}`,
      {
        details:
          'Anything in the storage can be served to the world, the master key with it. Keep keys elsewhere (--keys, UCVM_KEYS_DIR or ~/.ucvm/keys).',
        where: { path: keysDir },
      },
    );
}
