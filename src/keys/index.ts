import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../exec/index.js';
import { UcvmError } from '../errors.js';

/** The conventional key files of a repository (`/etc/cvmfs/keys/<fqrn>.*`), in one directory. */
export interface KeyPaths {
  dir: string;
  /** Master private key: signs the whitelist. Secret. */
  masterKey: string;
  /** Master public key (SPKI PEM): what clients are configured with. */
  masterPublicKey: string;
  /** Repository (certificate) private key: signs manifests. Secret. */
  certificateKey: string;
  certificate: string;
}

/** `--keys`, else `$UCVM_KEYS_DIR`, else `~/.ucvm/keys`: never inside a served directory. */
export function defaultKeysDir(): string {
  return resolve(process.env.UCVM_KEYS_DIR ?? join(homedir(), '.ucvm', 'keys'));
}

export function keyPaths(dir: string, fqrn: string): KeyPaths {
  const base = join(resolve(dir), fqrn);
  return {
    dir: resolve(dir),
    masterKey: `${base}.masterkey`,
    masterPublicKey: `${base}.pub`,
    certificateKey: `${base}.key`,
    certificate: `${base}.crt`,
  };
}

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
 * keys are written 0600 in a 0700 directory; their content is never printed.
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
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await chmod(paths.dir, 0o700);
  const master = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificateKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeSecret(
    paths.masterKey,
    master.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  await writeFile(
    paths.masterPublicKey,
    master.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    { mode: 0o644 },
  );
  await writeSecret(
    paths.certificateKey,
    certificateKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  await run('openssl', [
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
    '-out',
    paths.certificate,
  ]);
  await chmod(paths.certificate, 0o644);
  return paths;
}

async function writeSecret(path: string, pem: string): Promise<void> {
  await writeFile(path, pem, { mode: 0o600 });
  await chmod(path, 0o600);
}

async function readKeyFile(path: string, role: string): Promise<string> {
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

export interface SigningKeys {
  certificateKey: KeyObject;
  certificatePem: string;
}

export async function loadSigningKeys(paths: KeyPaths): Promise<SigningKeys> {
  const certificatePem = await readKeyFile(paths.certificate, 'repository certificate');
  const certificateKey = createPrivateKey(
    await readKeyFile(paths.certificateKey, 'repository key'),
  );
  return { certificateKey, certificatePem };
}

export async function loadMasterKey(paths: KeyPaths): Promise<KeyObject> {
  return createPrivateKey(await readKeyFile(paths.masterKey, 'master key'));
}

export async function loadPublicKey(path: string): Promise<KeyObject> {
  return createPublicKey(await readKeyFile(path, 'master public key'));
}
