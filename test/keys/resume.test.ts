import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { createKeys, keyPaths, loadSigningKeys } from '../../src/keys/index.js';
import { makeRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';

const fqrn = 'resume.example.org';

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('a key set cut short (a killed init)', () => {
  it('is finished from the private keys it has, keeping them', async () => {
    const dir = await tmpdir();
    const paths = keyPaths(dir, fqrn);
    await createKeys(dir, fqrn);
    const master = readFileSync(paths.masterKey);
    const publicKey = readFileSync(paths.masterPublicKey);
    const certificateKey = readFileSync(paths.certificateKey);
    rmSync(paths.masterPublicKey);
    rmSync(paths.certificate);
    await createKeys(dir, fqrn, { complete: true });
    expect(readFileSync(paths.masterKey)).toEqual(master);
    expect(readFileSync(paths.masterPublicKey)).toEqual(publicKey);
    expect(readFileSync(paths.certificateKey)).toEqual(certificateKey);
    await loadSigningKeys(paths);
    // Only a master key: the rest is made.
    rmSync(paths.certificateKey);
    rmSync(paths.certificate);
    rmSync(paths.masterPublicKey);
    await createKeys(dir, fqrn, { complete: true });
    expect(readFileSync(paths.masterPublicKey)).toEqual(publicKey);
    expect(readFileSync(paths.certificateKey)).not.toEqual(certificateKey);
    await loadSigningKeys(paths);
  });

  it('refuses a public part without its private key, and a public key of another master', async () => {
    const dir = await tmpdir();
    const paths = keyPaths(dir, fqrn);
    await createKeys(dir, fqrn);
    rmSync(paths.masterKey);
    const orphan = await failure(createKeys(dir, fqrn, { complete: true }));
    expect(isUcvmError(orphan, 'KEY_EXISTS')).toBe(true);
    expect((orphan as Error).message).toContain(
      `${paths.masterPublicKey} exists without its private key`,
    );
    // A public key beside a master key it does not belong to.
    const other = await tmpdir();
    await createKeys(other, fqrn);
    rmSync(paths.masterPublicKey);
    await createKeys(dir, fqrn, { complete: true, force: true });
    copyFileSync(path.join(other, `${fqrn}.pub`), paths.masterPublicKey);
    rmSync(paths.certificate);
    const mismatch = await failure(createKeys(dir, fqrn, { complete: true }));
    expect(isUcvmError(mismatch, 'KEY_INVALID')).toBe(true);
    expect((mismatch as Error).message).toContain('is not the public half of');
    // ucvm keys init (no `complete`) never touches an existing set.
    expect(isUcvmError(await failure(createKeys(dir, fqrn)), 'KEY_EXISTS')).toBe(true);
  });

  it('lets repo init finish after a kill between the key files', async () => {
    const repo = await makeRepo({ init: false, fqrn });
    await createKeys(repo.keys, fqrn);
    rmSync(path.join(repo.keys, `${fqrn}.crt`));
    rmSync(path.join(repo.keys, `${fqrn}.pub`));
    await repo.publisher.init({ whitelistDays: 30 });
    expect(existsSync(path.join(repo.storage, '.cvmfspublished'))).toBe(true);
    expect(existsSync(path.join(repo.keys, `${fqrn}.crt`))).toBe(true);
  });
});
