import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

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
