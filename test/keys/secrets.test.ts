import {
  chmodSync,
  chownSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import {
  checkKeysOutsideStorage,
  createKeys,
  loadMasterKey,
  loadPublicKey,
  loadSigningKeys,
  type KeyPaths,
} from '../../src/keys/index.js';
import { tmpdir } from '../helpers/tmp.js';

const FQRN = 's.example.org';
const asRoot = process.getuid?.() === 0;

/** The base64 lines of a PEM file (what must never be printed), not its header and footer. */
function bodyLines(pem: string): string[] {
  return pem.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----'));
}

/** Everything an error carries that could reach a log or a terminal, causes included. */
function everythingIn(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current !== undefined && current !== null;) {
    if (current instanceof Error) {
      const { details, where } = current as Partial<UcvmError>;
      parts.push(current.message, current.stack ?? '', details ?? '', JSON.stringify(where ?? {}));
      parts.push(JSON.stringify(current), String(current));
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : JSON.stringify(current));
      current = undefined;
    }
  }
  return parts.join('\n');
}

async function caught(action: () => Promise<unknown>): Promise<UcvmError> {
  const error = await action().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isUcvmError(error)) throw new Error(`expected a UcvmError, got ${String(error)}`);
  return error;
}

interface Case {
  name: string;
  code: string;
  /** Spoils the keys in `paths`, then fails the way the case is about. */
  run: (paths: KeyPaths, base: string) => Promise<UcvmError>;
}

const cases: Case[] = [
  {
    name: 'keys exist already',
    code: 'KEY_EXISTS',
    run: (paths) => caught(() => createKeys(paths.dir, FQRN)),
  },
  {
    name: 'a master key open to others',
    code: 'KEY_PERMISSIONS',
    run: (paths) => {
      chmodSync(paths.masterKey, 0o644);
      return caught(() => loadMasterKey(paths));
    },
  },
  {
    name: 'a key directory others can write',
    code: 'KEY_PERMISSIONS',
    run: (paths) => {
      chmodSync(paths.dir, 0o777);
      return caught(() => loadSigningKeys(paths));
    },
  },
  {
    name: 'a repository key that is a link',
    code: 'KEY_PERMISSIONS',
    run: (paths, base) => {
      renameSync(paths.certificateKey, path.join(base, 'moved.key'));
      symlinkSync(path.join(base, 'moved.key'), paths.certificateKey);
      return caught(() => loadSigningKeys(paths));
    },
  },
  ...(asRoot
    ? [
        {
          name: 'a master key of another user',
          code: 'KEY_PERMISSIONS',
          run: (paths: KeyPaths) => {
            chownSync(paths.masterKey, 65534, 65534);
            return caught(() => loadMasterKey(paths));
          },
        },
      ]
    : []),
  {
    name: 'a key file that cannot be replaced',
    code: 'KEY_PERMISSIONS',
    run: (paths) => {
      rmSync(paths.certificate);
      mkdirSync(paths.certificate);
      writeFileSync(path.join(paths.certificate, 'x'), '');
      return caught(() => createKeys(paths.dir, FQRN, { force: true }));
    },
  },
  ...(['masterKey', 'certificateKey'] as const).map((which): Case => ({
    name: `a ${which} cut short`,
    code: 'KEY_INVALID',
    run: (paths) => {
      const lines = readFileSync(paths[which], 'utf8').split('\n');
      // All but the end of the real key: what is left is secret, and no longer parses.
      writeFileSync(paths[which], [...lines.slice(0, -4), lines.at(-2), ''].join('\n'));
      return caught(() => (which === 'masterKey' ? loadMasterKey(paths) : loadSigningKeys(paths)));
    },
  })),
  {
    name: 'a master key with its body in a wrong header',
    code: 'KEY_INVALID',
    run: (paths) => {
      const pem = readFileSync(paths.masterKey, 'utf8');
      writeFileSync(paths.masterKey, pem.replaceAll('PRIVATE KEY', 'PUBLIC KEY'));
      return caught(() => loadMasterKey(paths));
    },
  },
  {
    name: 'a master key repeated past the size bound',
    code: 'KEY_INVALID',
    run: (paths) => {
      writeFileSync(paths.masterKey, readFileSync(paths.masterKey, 'utf8').repeat(100));
      return caught(() => loadMasterKey(paths));
    },
  },
  {
    name: 'a public key file holding the private key',
    code: 'KEY_INVALID',
    run: (paths) => {
      writeFileSync(
        paths.masterPublicKey,
        readFileSync(paths.masterKey, 'utf8').replace(/\n-----END[^\n]*\n$/, '\n'),
      );
      return caught(() => loadPublicKey(paths.masterPublicKey));
    },
  },
  {
    name: 'a missing repository key',
    code: 'KEY_MISSING',
    run: (paths) => {
      rmSync(paths.certificateKey);
      return caught(() => loadSigningKeys(paths));
    },
  },
  {
    name: 'keys inside the storage',
    code: 'KEY_LOCATION',
    run: (paths) => caught(() => checkKeysOutsideStorage(paths.dir, path.dirname(paths.dir))),
  },
];

describe('keys errors never carry a secret', () => {
  it.each(cases.map((c): [string, Case] => [c.name, c]))('%s', async (_name, { code, run }) => {
    const base = await tmpdir();
    const paths = await createKeys(path.join(base, 'keys'), FQRN);
    const secrets = [
      ...bodyLines(readFileSync(paths.masterKey, 'utf8')),
      ...bodyLines(readFileSync(paths.certificateKey, 'utf8')),
    ];
    expect(secrets.length).toBeGreaterThan(20);
    const error = await run(paths, base);
    expect(error.code).toBe(code);
    expect(error.message).toContain(base);
    const text = everythingIn(error);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('PRIVATE KEY-----');
  });
});
