import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { lstat, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { run } from '../exec/index.js';
import { UcvmError } from '../errors.js';
import { checkKeyDirectory, readPrivateKeyFile, readPublicKeyFile, writeKeyFile } from './files.js';
import { keyPaths, type KeyPaths } from './paths.js';

export { defaultKeysDir, keyPaths, type KeyPaths } from './paths.js';

/** Anything at the name counts, a dangling link too: --force is what replaces it. */
async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
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
  options: { force?: boolean; complete?: boolean } = {},
): Promise<KeyPaths> {
  const paths = keyPaths(dir, fqrn);
  await checkKeyDirectory(paths.dir, true);
  if (options.force !== true && options.complete !== true) {
    for (const path of [paths.masterKey, paths.certificateKey, paths.certificate]) {
      if (await exists(path)) {
        throw new UcvmError('KEY_EXISTS', `keys for ${fqrn} exist already: ${path}`, {
          details:
            'Keys are never overwritten by accident. Pass --force to replace them (clients then need the new master public key).',
        });
      }
    }
  }
  // With `complete`, a set cut short (a run killed while writing it) is finished from the
  // private keys it has; a public part without its private key is someone else's: refused.
  const keep = options.complete === true && options.force !== true;
  const has = async (path: string): Promise<boolean> => keep && (await exists(path));
  const master = (await has(paths.masterKey))
    ? await existingPair(paths.masterKey, 'master key')
    : await refuseOrphan(paths.masterPublicKey, keep, fqrn, () =>
        generateKeyPairSync('rsa', { modulusLength: 2048 }),
      );
  if (!(await has(paths.masterKey)))
    await writeKeyFile(
      paths.masterKey,
      master.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      0o600,
    );
  const publicPem = master.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  if (await has(paths.masterPublicKey)) {
    if (
      (await loadPublicKey(paths.masterPublicKey)).export({ type: 'spki', format: 'pem' }) !==
      publicPem
    )
      throw new UcvmError(
        'KEY_INVALID',
        `${paths.masterPublicKey} is not the public half of ${paths.masterKey}`,
      );
  } else await writeKeyFile(paths.masterPublicKey, publicPem, 0o644);
  if (!(await has(paths.certificateKey))) {
    await refuseOrphan(paths.certificate, keep, fqrn, () => undefined);
    const certificateKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeKeyFile(
      paths.certificateKey,
      certificateKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      0o600,
    );
  }
  if (await has(paths.certificate)) return paths;
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

async function existingPair(
  path: string,
  role: string,
): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  const pem = await readPrivateKeyFile(path, role);
  const privateKey = parseKey(path, role, () => createPrivateKey(pem));
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

async function refuseOrphan<T>(
  publicPart: string,
  keep: boolean,
  fqrn: string,
  make: () => T,
): Promise<T> {
  if (keep && (await exists(publicPart)))
    throw new UcvmError('KEY_EXISTS', `${publicPart} exists without its private key (${fqrn})`, {
      details:
        'It belongs to keys made elsewhere: put the matching private key beside it, or remove it to make new keys.',
    });
  return make();
}

/** Parses a key, or fails naming the file and never its content. */
function parseKey<T>(path: string, role: string, parse: () => T): T {
  try {
    return parse();
  } catch {
    throw new UcvmError('KEY_INVALID', `the ${role} ${path} is not a valid PEM key`, {
      details:
        'The file is corrupt or of another kind. Restore it, or create new keys with `ucvm keys init --force`.',
    });
  }
}

export interface SigningKeys {
  certificateKey: KeyObject;
  certificatePem: string;
}

export async function loadSigningKeys(paths: KeyPaths): Promise<SigningKeys> {
  const certificatePem = await readPublicKeyFile(paths.certificate, 'repository certificate');
  const pem = await readPrivateKeyFile(paths.certificateKey, 'repository key');
  const certificateKey = parseKey(paths.certificateKey, 'repository key', () =>
    createPrivateKey(pem),
  );
  return { certificateKey, certificatePem };
}

export async function loadMasterKey(paths: KeyPaths): Promise<KeyObject> {
  const pem = await readPrivateKeyFile(paths.masterKey, 'master key');
  return parseKey(paths.masterKey, 'master key', () => createPrivateKey(pem));
}

export async function loadPublicKey(path: string): Promise<KeyObject> {
  const pem = await readPublicKeyFile(path, 'master public key');
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
  // As named and as resolved: a link inside the storage that leads out is still served by a
  // server that follows links, and a link to the storage from outside leads into it.
  const served = [resolve(storage), await realAncestor(storage)];
  const keys = [resolve(keysDir), await realAncestor(keysDir)];
  for (const root of served)
    for (const dir of keys) {
      const way = relative(root, dir);
      if (way === '..' || way.startsWith(`..${sep}`) || isAbsolute(way)) continue;
      throw new UcvmError(
        'KEY_LOCATION',
        `the key directory ${keysDir} is inside the storage ${storage}`,
        {
          details: `${dir} is inside ${root}. Anything in the storage can be served to the world, the master key with it. Keep keys elsewhere (--keys, UCVM_KEYS_DIR or ~/.ucvm/keys).`,
        },
      );
    }
}
