import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll } from 'vitest';
import { hasCommand, run, runBinary } from '../../src/exec/index.js';
import { formatControl, parseControl } from '../../src/packages/debian/control.js';
import type { SourceEntry } from '../../src/packages/apt/index.js';
import { buildDeb, type DebSpec } from './deb-fixtures.js';
import { makeTempDir, removeDir, tmpdir } from './tmp.js';

export interface SigningKey {
  /** GNUPGHOME holding the secret key. */
  home: string;
  fingerprint: string;
  /** Binary public keyring (what apt's Signed-By names). */
  keyring: string;
  /** The same public key, ASCII-armored. */
  armored: string;
}

async function createSigningKey(name: string): Promise<SigningKey> {
  const home = await makeTempDir('ucvm-gpg-');
  const gpg = (args: string[]) => run('gpg', ['--homedir', home, '--batch', ...args]);
  await gpg([
    '--passphrase',
    '',
    '--quick-gen-key',
    `${name} <${name}@example.invalid>`,
    'ed25519',
    'sign',
    'never',
  ]);
  const listing = await gpg(['--with-colons', '--list-secret-keys']);
  const fingerprint = /^fpr:(?:[^:]*:){8}([0-9A-F]+):/m.exec(listing.stdout)?.[1];
  if (fingerprint === undefined)
    throw new Error(`no fingerprint in gpg output:\n${listing.stdout}`);
  const keyring = path.join(home, 'public.gpg');
  await writeFile(
    keyring,
    await runBinary('gpg', ['--homedir', home, '--batch', '--export', fingerprint]),
  );
  const armored = (await gpg(['--armor', '--export', fingerprint])).stdout;
  return { home, fingerprint, keyring, armored };
}

let keys: Promise<{ trusted: SigningKey; other: SigningKey }> | undefined;

/** Two throwaway ed25519 keys, made once per test file: the trusted one and a stranger. */
export function signingKeys(): Promise<{ trusted: SigningKey; other: SigningKey }> {
  keys ??= Promise.all([createSigningKey('ucvm-trusted'), createSigningKey('ucvm-other')]).then(
    ([trusted, other]) => ({ trusted, other }),
  );
  return keys;
}

// Registered when a test file imports this helper: stop the gpg agents and remove the key homes.
afterAll(async () => {
  if (keys === undefined) return;
  const { trusted, other } = await keys;
  for (const key of [trusted, other]) {
    await run('gpgconf', ['--homedir', key.home, '--kill', 'all'], { okExitCodes: [0, 1, 2] });
    await removeDir(key.home);
  }
  keys = undefined;
});

export interface AptRepoSpec {
  packages: readonly DebSpec[];
  suite?: string;
  component?: string;
  arch?: string;
  /** true: InRelease and Release.gpg by the trusted key; false: unsigned; 'wrong-key': signed by another key. */
  sign?: boolean | 'wrong-key';
  /** Publish InRelease (default true); without it clients must use Release + Release.gpg. */
  inRelease?: boolean;
  /** Publish indices under by-hash/SHA256/ too and say `Acquire-By-Hash: yes`. */
  byHash?: boolean;
  /** Put `Architecture: all` packages in binary-all/ only (as archives without No-Support-for-Architecture-all). */
  splitAll?: boolean;
  validUntil?: Date;
  /** Where to build (default: a temp dir removed after the test). */
  dir?: string;
}

export interface AptRepo {
  dir: string;
  suite: string;
  component: string;
  arch: string;
  /** The public keyring clients should trust (always the trusted key, whatever signed). */
  keyring: string;
  key: SigningKey;
  /** Package name → .deb path inside `dir`. */
  debs: Map<string, string>;
  /** Every Packages file written (all compressions), as paths inside `dir`. */
  indexFiles: string[];
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function writeIndices(
  dir: string,
  relDir: string,
  text: string,
  byHash: boolean,
): Promise<Map<string, Buffer>> {
  const variants = new Map<string, Buffer>([
    [`${relDir}/Packages`, Buffer.from(text)],
    [`${relDir}/Packages.gz`, gzipSync(Buffer.from(text))],
  ]);
  if (await hasCommand('xz'))
    variants.set(`${relDir}/Packages.xz`, await runBinary('xz', ['-c', '-6'], { input: text }));
  await mkdir(path.join(dir, relDir), { recursive: true });
  for (const [file, data] of variants) {
    await writeFile(path.join(dir, file), data);
    if (byHash) {
      await mkdir(path.join(dir, relDir, 'by-hash/SHA256'), { recursive: true });
      await writeFile(path.join(dir, relDir, 'by-hash/SHA256', sha256(data)), data);
    }
  }
  return variants;
}

/** A local apt archive (pool/, dists/<suite>/) built from real .debs, signed as asked. */
export async function buildAptRepo(spec: AptRepoSpec): Promise<AptRepo> {
  const dir = spec.dir ?? (await tmpdir());
  const suite = spec.suite ?? 'stable';
  const component = spec.component ?? 'main';
  const arch = spec.arch ?? 'amd64';
  const debs = new Map<string, string>();
  for (const deb of spec.packages) {
    const poolDir = path.join(dir, 'pool', component, deb.name.slice(0, 1), deb.name);
    debs.set(deb.name, await buildDeb({ architecture: arch, ...deb }, poolDir));
  }
  const scanned =
    debs.size === 0
      ? ''
      : (await run('dpkg-scanpackages', ['--multiversion', 'pool', '/dev/null'], { cwd: dir }))
          .stdout;
  const stanzas = parseControl(scanned);
  const isAll = (stanza: (typeof stanzas)[number]): boolean => stanza.get('Architecture') === 'all';
  const main = spec.splitAll === true ? stanzas.filter((stanza) => !isAll(stanza)) : stanzas;
  const dists = path.join(dir, 'dists', suite);
  const listed = new Map<string, Buffer>();
  const text = (list: typeof stanzas) => (list.length === 0 ? '' : formatControl(list));
  for (const [file, data] of await writeIndices(
    dists,
    `${component}/binary-${arch}`,
    text(main),
    spec.byHash === true,
  ))
    listed.set(file, data);
  if (spec.splitAll === true) {
    const all = await writeIndices(
      dists,
      `${component}/binary-all`,
      text(stanzas.filter(isAll)),
      spec.byHash === true,
    );
    for (const [file, data] of all) listed.set(file, data);
  }
  const release = [
    'Origin: ucvm-test',
    'Label: ucvm-test',
    `Suite: ${suite}`,
    `Codename: ${suite}`,
    `Date: ${new Date().toUTCString().replace('GMT', 'UTC')}`,
    ...(spec.validUntil === undefined
      ? []
      : [`Valid-Until: ${spec.validUntil.toUTCString().replace('GMT', 'UTC')}`]),
    `Architectures: ${arch}${spec.splitAll === true ? ' all' : ''}`,
    `Components: ${component}`,
    ...(spec.byHash === true ? ['Acquire-By-Hash: yes'] : []),
    'Description: ucvm test archive',
    'SHA256:',
    ...[...listed].map(
      ([file, data]) => ` ${sha256(data)} ${String(data.length).padStart(8)} ${file}`,
    ),
  ].join('\n');
  const releaseFile = path.join(dists, 'Release');
  await writeFile(releaseFile, `${release}\n`);
  const { trusted, other } = await signingKeys();
  if (spec.sign !== false) {
    const key = spec.sign === 'wrong-key' ? other : trusted;
    const gpg = [
      '--homedir',
      key.home,
      '--batch',
      '--yes',
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      '',
      '--local-user',
      key.fingerprint,
    ];
    if (spec.inRelease !== false)
      await run('gpg', [
        ...gpg,
        '--clearsign',
        '--output',
        path.join(dists, 'InRelease'),
        releaseFile,
      ]);
    await run('gpg', [
      ...gpg,
      '--detach-sign',
      '--armor',
      '--output',
      path.join(dists, 'Release.gpg'),
      releaseFile,
    ]);
  }
  const indexFiles = [...listed.keys()].map((file) => path.join(dists, file));
  return { dir, suite, component, arch, keyring: trusted.keyring, key: trusted, debs, indexFiles };
}

/** The apt source entry for `repo` served at `uri` (Signed-By the trusted keyring). */
export function sourceFor(repo: AptRepo, uri: string): SourceEntry {
  return {
    uri,
    suite: repo.suite,
    components: [repo.component],
    signedBy: { keyrings: [repo.keyring], fingerprints: [] },
    types: ['deb'],
  };
}
