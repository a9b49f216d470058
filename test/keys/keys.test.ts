import {
  chmodSync,
  chownSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import {
  checkKeysOutsideStorage,
  createKeys,
  keyPaths,
  loadMasterKey,
  loadSigningKeys,
} from '../../src/keys/index.js';
import { ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isUcvmError(error) ? error.code : String(error);
}

const asRoot = process.getuid?.() === 0;

describe('key files', () => {
  it('writes through no planted symlink, even with --force', async () => {
    const base = await tmpdir();
    const keys = path.join(base, 'keys');
    await createKeys(keys, 'k.example.org');
    const victim = path.join(base, 'victim');
    writeFileSync(victim, 'belongs to someone else\n');
    if (asRoot) chownSync(victim, 65534, 65534);
    const { masterKey, certificate } = keyPaths(keys, 'k.example.org');
    // Someone who can write the key directory's parent swaps the keys for links to the victim.
    for (const planted of [masterKey, certificate]) {
      rmSync(planted);
      symlinkSync(victim, planted);
    }
    await createKeys(keys, 'k.example.org', { force: true });
    expect(readFileSync(victim, 'utf8')).toBe('belongs to someone else\n');
    expect(statSync(masterKey).mode & 0o777).toBe(0o600);
    await expect(loadMasterKey(keyPaths(keys, 'k.example.org'))).resolves.toBeDefined();
  });

  it('refuses private keys open to others and a key directory others can write, as ssh does', async () => {
    const keys = path.join(await tmpdir(), 'keys');
    const paths = await createKeys(keys, 'k.example.org');
    chmodSync(paths.masterKey, 0o644);
    expect(await codeOf(loadMasterKey(paths))).toBe('KEY_PERMISSIONS');
    const error = (await loadMasterKey(paths).then(
      () => ({}),
      (e: unknown) => e,
    )) as Error & { details?: string };
    expect(error.details).toContain(`chmod 600 ${paths.masterKey}`);
    chmodSync(paths.masterKey, 0o600);
    chmodSync(keys, 0o777);
    expect(await codeOf(loadSigningKeys(paths))).toBe('KEY_PERMISSIONS');
    chmodSync(keys, 0o700);
    await expect(loadSigningKeys(paths)).resolves.toBeDefined();
  });

  it.skipIf(!asRoot)('refuses a key directory that belongs to another user', async () => {
    const keys = path.join(await tmpdir(), 'keys');
    const paths = await createKeys(keys, 'k.example.org');
    chownSync(keys, 65534, 65534);
    expect(await codeOf(loadMasterKey(paths))).toBe('KEY_PERMISSIONS');
  });

  it('reports a corrupt key as a key error without its content', async () => {
    const keys = path.join(await tmpdir(), 'keys');
    const paths = await createKeys(keys, 'k.example.org');
    const secretLine = readFileSync(paths.certificateKey, 'utf8').split('\n')[1]!;
    writeFileSync(
      paths.certificateKey,
      `-----BEGIN PRIVATE KEY-----\n${secretLine}\n-----END PRIVATE KEY-----\n`,
      {
        mode: 0o600,
      },
    );
    const error = (await loadSigningKeys(paths).then(
      () => ({}),
      (e: unknown) => e,
    )) as Error & { details?: string; code?: string };
    expect(error.code).toBe('KEY_INVALID');
    expect(`${error.message}\n${error.details}`).not.toContain(secretLine);
  });

  it('refuses a key directory inside the storage', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'k.example.org');
    mkdirSync(storage, { recursive: true });
    expect(await codeOf(checkKeysOutsideStorage(path.join(storage, 'keys'), storage))).toBe(
      'KEY_LOCATION',
    );
    expect(await codeOf(checkKeysOutsideStorage(storage, storage))).toBe('KEY_LOCATION');
    // Through a symlink to the storage, and for a storage that does not exist yet.
    symlinkSync(storage, path.join(base, 'alias'));
    expect(await codeOf(checkKeysOutsideStorage(path.join(base, 'alias', 'k'), storage))).toBe(
      'KEY_LOCATION',
    );
    expect(
      await codeOf(checkKeysOutsideStorage(path.join(base, 'new', 'keys'), path.join(base, 'new'))),
    ).toBe('KEY_LOCATION');
    await expect(
      checkKeysOutsideStorage(path.join(base, 'keys'), storage),
    ).resolves.toBeUndefined();
  });

  it('refuses repo init with keys inside the storage, creating nothing', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'k.example.org');
    const result = ucvm(['repo', 'init', storage, '--keys', path.join(storage, 'keys')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('KEY_LOCATION');
    expect(() => statSync(storage)).toThrow();
  });
});
