import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import {
  checkKeysOutsideStorage,
  createKeys,
  keyPaths,
  loadMasterKey,
  loadPublicKey,
  loadSigningKeys,
  type KeyPaths,
} from '../../src/keys/index.js';
import { tmpdir } from '../helpers/tmp.js';

async function failure(promise: Promise<unknown>): Promise<UcvmError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isUcvmError(error)) throw new Error(`expected a UcvmError, got ${String(error)}`);
  return error;
}

const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const FQRN = 'k.example.org';

async function freshKeys(): Promise<{ base: string; keys: string; paths: KeyPaths }> {
  const base = await tmpdir();
  const keys = path.join(base, 'keys');
  return { base, keys, paths: await createKeys(keys, FQRN) };
}

describe('writing key files', () => {
  it('writes through no planted symlink, even with --force', async () => {
    const { base, keys, paths } = await freshKeys();
    const victim = path.join(base, 'victim');
    writeFileSync(victim, 'belongs to someone else\n', { mode: 0o644 });
    if (asRoot) chownSync(victim, NOBODY, NOBODY);
    // Every key file's name swapped for a link to another user's file.
    const names = [paths.masterKey, paths.masterPublicKey, paths.certificateKey, paths.certificate];
    for (const planted of names) {
      rmSync(planted);
      symlinkSync(victim, planted);
    }
    await createKeys(keys, FQRN, { force: true });
    expect(readFileSync(victim, 'utf8')).toBe('belongs to someone else\n');
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    for (const name of names) expect(lstatSync(name).isFile(), name).toBe(true);
    expect(statSync(paths.masterKey).mode & 0o777).toBe(0o600);
    expect(statSync(paths.certificateKey).mode & 0o777).toBe(0o600);
    expect(statSync(paths.certificate).mode & 0o777).toBe(0o644);
    await expect(loadMasterKey(paths)).resolves.toBeDefined();
    await expect(loadSigningKeys(paths)).resolves.toBeDefined();
    // Nothing but the key files is left behind (no temporaries).
    expect(readdirSync(keys).sort()).toEqual(names.map((name) => path.basename(name)).sort());
  });

  it('counts a dangling planted link as an existing key (only --force replaces it)', async () => {
    const keys = path.join(await tmpdir(), 'keys');
    mkdirSync(keys, { mode: 0o700 });
    symlinkSync('/nonexistent/target', keyPaths(keys, FQRN).masterKey);
    expect((await failure(createKeys(keys, FQRN))).code).toBe('KEY_EXISTS');
  });

  it('refuses a key directory that is a symbolic link, writing nothing through it', async () => {
    const base = await tmpdir();
    const real = path.join(base, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, path.join(base, 'keys'));
    const error = await failure(createKeys(path.join(base, 'keys'), FQRN));
    expect(error.code).toBe('KEY_PERMISSIONS');
    expect(error.message).toContain(path.join(base, 'keys'));
    expect(error.message).toContain('symbolic link');
    expect(readdirSync(real)).toEqual([]);
  });

  it.skipIf(!asRoot)('refuses to write into a key directory of another user', async () => {
    const keys = path.join(await tmpdir(), 'keys');
    mkdirSync(keys, { mode: 0o700 });
    chownSync(keys, NOBODY, NOBODY);
    const error = await failure(createKeys(keys, FQRN));
    expect(error.code).toBe('KEY_PERMISSIONS');
    expect(error.message).toContain(`belongs to uid ${NOBODY}`);
    expect(readdirSync(keys)).toEqual([]);
  });
});

describe('key permissions', () => {
  it.each(['644', '640', '604', '620', '602', '660'])(
    'refuses a private key of mode 0%s, naming the file, the mode and the chmod',
    async (octal) => {
      const mode = parseInt(octal, 8);
      const { paths } = await freshKeys();
      for (const [file, load] of [
        [paths.masterKey, () => loadMasterKey(paths)],
        [paths.certificateKey, () => loadSigningKeys(paths)],
      ] as const) {
        chmodSync(file, mode);
        const error = await failure(load());
        expect(error.code).toBe('KEY_PERMISSIONS');
        expect(error.message).toContain(file);
        expect(error.message).toContain(`mode 0${octal}`);
        expect(error.details).toContain(`Run: chmod 600 ${file}`);
        expect(error.exitCode).toBe(1);
        chmodSync(file, 0o600);
      }
      await expect(loadMasterKey(paths)).resolves.toBeDefined();
    },
  );

  it.each(['777', '770', '722', '702'])(
    'refuses a key directory of mode 0%s (writable by group or others)',
    async (octal) => {
      const mode = parseInt(octal, 8);
      const { keys, paths } = await freshKeys();
      chmodSync(keys, mode);
      for (const load of [() => loadMasterKey(paths), () => loadSigningKeys(paths)]) {
        const error = await failure(load());
        expect(error.code).toBe('KEY_PERMISSIONS');
        expect(error.message).toContain(`${keys}: the key directory is mode 0${octal}`);
        expect(error.details).toContain(`Run: chmod 700 ${keys}`);
      }
    },
  );

  it('takes public files 0644 and a key directory 0755', async () => {
    const { keys, paths } = await freshKeys();
    chmodSync(keys, 0o755);
    chmodSync(paths.masterPublicKey, 0o644);
    chmodSync(paths.certificate, 0o644);
    await expect(loadSigningKeys(paths)).resolves.toBeDefined();
    await expect(loadMasterKey(paths)).resolves.toBeDefined();
    await expect(loadPublicKey(paths.masterPublicKey)).resolves.toBeDefined();
  });

  it('refuses a private key that is a symbolic link, even to a 0600 file', async () => {
    const { base, paths } = await freshKeys();
    const elsewhere = path.join(base, 'elsewhere.masterkey');
    renameSync(paths.masterKey, elsewhere);
    symlinkSync(elsewhere, paths.masterKey);
    const error = await failure(loadMasterKey(paths));
    expect(error.code).toBe('KEY_PERMISSIONS');
    expect(error.message).toContain(paths.masterKey);
    expect(error.message).toContain('symbolic link');
  });

  it('refuses a FIFO planted as the private key instead of waiting on it', async () => {
    const { paths } = await freshKeys();
    rmSync(paths.masterKey);
    execFileSync('mkfifo', ['-m', '600', paths.masterKey]);
    const error = await failure(loadMasterKey(paths));
    expect(error.code).toBe('KEY_PERMISSIONS');
    expect(error.message).toContain(`${paths.masterKey}: the master key is not a regular file`);
  });

  it.skipIf(!asRoot)('refuses a key directory and a private key of another user', async () => {
    const { keys, paths } = await freshKeys();
    chownSync(paths.masterKey, NOBODY, NOBODY);
    const file = await failure(loadMasterKey(paths));
    expect(file.code).toBe('KEY_PERMISSIONS');
    expect(file.message).toContain(`${paths.masterKey}: the master key belongs to uid ${NOBODY}`);
    chownSync(paths.masterKey, 0, 0);
    chownSync(keys, NOBODY, NOBODY);
    const dir = await failure(loadSigningKeys(paths));
    expect(dir.code).toBe('KEY_PERMISSIONS');
    expect(dir.message).toContain(`${keys}: the key directory belongs to uid ${NOBODY}`);
  });
});

describe('corrupt and missing keys', () => {
  it.each(['masterKey', 'certificateKey', 'masterPublicKey'] as const)(
    'reports a corrupt %s as KEY_INVALID naming the file (exit 1)',
    async (which) => {
      const { paths } = await freshKeys();
      const file = paths[which];
      const pem = readFileSync(file, 'utf8').split('\n');
      // The real header and footer around a body cut short: still PEM, no longer a key.
      writeFileSync(file, [pem[0], pem[1], pem[2], pem.at(-2), ''].join('\n'));
      const load = {
        masterKey: () => loadMasterKey(paths),
        certificateKey: () => loadSigningKeys(paths),
        masterPublicKey: () => loadPublicKey(paths.masterPublicKey),
      }[which];
      const error = await failure(load());
      expect(error.code).toBe('KEY_INVALID');
      expect(error.message).toContain(file);
      expect(error.exitCode).toBe(1);
    },
  );

  it('reports garbage and an oversized file as KEY_INVALID, without reading it whole', async () => {
    const { paths } = await freshKeys();
    writeFileSync(paths.masterKey, 'not a key at all\n');
    expect((await failure(loadMasterKey(paths))).code).toBe('KEY_INVALID');
    writeFileSync(paths.masterKey, Buffer.alloc(10 << 20, 'A'));
    const error = await failure(loadMasterKey(paths));
    expect(error.code).toBe('KEY_INVALID');
    expect(error.details).toContain(`${10 << 20} bytes`);
  });

  it('reports a missing key as KEY_MISSING naming it', async () => {
    const { paths } = await freshKeys();
    rmSync(paths.certificateKey);
    const error = await failure(loadSigningKeys(paths));
    expect(error.code).toBe('KEY_MISSING');
    expect(error.message).toContain(paths.certificateKey);
    const none = keyPaths(path.join(await tmpdir(), 'none'), FQRN);
    expect((await failure(loadMasterKey(none))).code).toBe('KEY_MISSING');
    expect((await failure(loadPublicKey(none.masterPublicKey))).code).toBe('KEY_MISSING');
  });
});

describe('checkKeysOutsideStorage', () => {
  it('refuses a key directory equal to or inside the storage, resolved', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', FQRN);
    mkdirSync(storage, { recursive: true });
    const refused = [
      path.join(storage, 'keys'),
      storage,
      `${storage}/`,
      path.join(storage, 'a', '..', 'keys'),
      path.join(base, 'srv', '.', FQRN, 'deep', 'er'),
    ];
    symlinkSync(storage, path.join(base, 'alias'));
    refused.push(path.join(base, 'alias', 'keys'), path.join(base, 'alias'));
    for (const keys of refused) {
      const error = await failure(checkKeysOutsideStorage(keys, storage));
      expect(error.code, keys).toBe('KEY_LOCATION');
      expect(error.message).toContain(keys);
      expect(error.message).toContain(`inside the storage ${storage}`);
      expect(error.details).toMatch(/ is inside .*Keep keys elsewhere/);
      expect(error.exitCode).toBe(2);
    }
    // The storage named through the link, and a storage that does not exist yet.
    expect(
      (await failure(checkKeysOutsideStorage(path.join(storage, 'k'), path.join(base, 'alias'))))
        .code,
    ).toBe('KEY_LOCATION');
    const future = path.join(base, 'new', FQRN);
    expect((await failure(checkKeysOutsideStorage(path.join(future, 'keys'), future))).code).toBe(
      'KEY_LOCATION',
    );
  });

  it('takes a key directory beside, above or merely sharing a prefix with the storage', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', FQRN);
    mkdirSync(storage, { recursive: true });
    for (const keys of [
      path.join(base, 'keys'),
      path.join(base, 'srv'),
      `${storage}-keys`,
      `${storage}..keys`,
      path.join(base, 'srv', `..${FQRN}`),
    ])
      await expect(checkKeysOutsideStorage(keys, storage), keys).resolves.toBeUndefined();
  });

  it('refuses keys named inside the storage through a link that leads out of it', async () => {
    // A web server that follows links (Apache's default) serves them under the storage's URL.
    const base = await tmpdir();
    const storage = path.join(base, 'srv', FQRN);
    mkdirSync(storage, { recursive: true });
    mkdirSync(path.join(base, 'outside'));
    symlinkSync(path.join(base, 'outside'), path.join(storage, 'link'));
    const error = await failure(
      checkKeysOutsideStorage(path.join(storage, 'link', 'keys'), storage),
    );
    expect(error.code).toBe('KEY_LOCATION');
  });
});
