import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Checks of what the publisher wrote with tools that share no code with it: python's zlib,
 * the sqlite3 CLI, openssl and sha1sum.
 */

/** Inflates a zlib object with Python's zlib module. */
export function pythonInflate(file: string): Buffer {
  return execFileSync(
    'python3',
    [
      '-c',
      'import sys, zlib; sys.stdout.buffer.write(zlib.decompress(open(sys.argv[1], "rb").read()))',
      file,
    ],
    {
      maxBuffer: 1 << 30,
    },
  );
}

export function sha1sum(file: string): string {
  return execFileSync('sha1sum', [file]).toString().split(' ')[0]!;
}

/** Runs SQL through the sqlite3 CLI; rows as arrays of strings (separator |). */
export function sqlite(dbFile: string, sql: string): string[][] {
  const out = execFileSync('sqlite3', ['-batch', '-noheader', dbFile, sql]).toString();
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('|'));
}

/** Splits a signed letter (manifest or whitelist) into its parts, byte-exactly. */
export function splitLetter(bytes: Buffer): {
  letter: Buffer;
  hashLine: string;
  signature: Buffer;
} {
  const at = bytes.indexOf('\n--\n');
  const letter = bytes.subarray(0, at + 1);
  const hashEnd = bytes.indexOf('\n', at + 4);
  return {
    letter,
    hashLine: bytes.subarray(at + 4, hashEnd).toString('latin1'),
    signature: bytes.subarray(hashEnd + 1),
  };
}

/** `openssl dgst -sha1 -verify`: the manifest signature (RSA PKCS#1 v1.5 SHA-1 over the hex hash). */
export function opensslVerifyManifest(
  work: string,
  manifestBytes: Buffer,
  certificatePem: string,
): string {
  const { hashLine, signature } = splitLetter(manifestBytes);
  writeFileSync(path.join(work, 'cert.pem'), certificatePem);
  const pub = execFileSync('openssl', [
    'x509',
    '-in',
    path.join(work, 'cert.pem'),
    '-pubkey',
    '-noout',
  ]);
  writeFileSync(path.join(work, 'cert-pub.pem'), pub);
  writeFileSync(path.join(work, 'hash.txt'), hashLine);
  writeFileSync(path.join(work, 'sig.bin'), signature);
  return execFileSync('openssl', [
    'dgst',
    '-sha1',
    '-verify',
    path.join(work, 'cert-pub.pem'),
    '-signature',
    path.join(work, 'sig.bin'),
    path.join(work, 'hash.txt'),
  ])
    .toString()
    .trim();
}

/** `openssl pkeyutl -verifyrecover`: the whitelist signature recovers exactly the hex hash. */
export function opensslRecoverWhitelist(
  work: string,
  whitelistBytes: Buffer,
  masterPublicKey: string,
): string {
  const { signature } = splitLetter(whitelistBytes);
  writeFileSync(path.join(work, 'wl-sig.bin'), signature);
  return execFileSync('openssl', [
    'pkeyutl',
    '-verifyrecover',
    '-pubin',
    '-inkey',
    masterPublicKey,
    '-in',
    path.join(work, 'wl-sig.bin'),
  ]).toString('latin1');
}

/** `openssl dgst -sha1` of the letter, as hex. */
export function opensslSha1(work: string, bytes: Buffer): string {
  writeFileSync(path.join(work, 'letter.bin'), bytes);
  return execFileSync('openssl', ['dgst', '-sha1', '-r', path.join(work, 'letter.bin')])
    .toString()
    .split(' ')[0]!;
}

/** Every object file under data/ (excluding data/txn). */
export function listObjectFiles(storage: string): string[] {
  const files: string[] = [];
  for (const pair of readdirSync(path.join(storage, 'data'))) {
    if (pair === 'txn') continue;
    for (const name of readdirSync(path.join(storage, 'data', pair)))
      files.push(path.join(storage, 'data', pair, name));
  }
  return files;
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}

/**
 * Every catalog reachable from the manifest and every tag, and every object they name, checked
 * by a Python script that shares no code with ucvm (zlib, sqlite3, hashlib); the manifest's
 * signature by openssl. Returns the problems (empty: whole and signed).
 */
export function independentProblems(storage: string, work: string): string[] {
  const problems = JSON.parse(
    execFileSync('python3', [path.join(import.meta.dirname, 'independent-check.py'), storage], {
      maxBuffer: 1 << 26,
    }).toString(),
  ) as string[];
  const manifest = readFileSync(path.join(storage, '.cvmfspublished'));
  const certificate = manifest
    .toString('latin1')
    .split('\n')
    .find((line) => line.startsWith('X'))!
    .slice(1);
  const certificateFile = path.join(
    storage,
    'data',
    certificate.slice(0, 2),
    `${certificate.slice(2)}X`,
  );
  try {
    const verdict = opensslVerifyManifest(
      work,
      manifest,
      pythonInflate(certificateFile).toString('latin1'),
    );
    if (verdict !== 'Verified OK') problems.push(`openssl: ${verdict}`);
  } catch (error) {
    problems.push(`openssl: ${(error as Error).message.split('\n')[0]}`);
  }
  return problems;
}

/** Python's (stock) zlib at level 6 of `data`: what a stratum 1 writes for X and M objects. */
export function pythonCompress6(data: Buffer): Buffer {
  return execFileSync(
    'python3',
    ['-c', 'import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 6))'],
    { input: data, maxBuffer: 1 << 30 },
  );
}

/**
 * The certificate (and meta-info) object of a repository directory, checked against stock
 * zlib: inflated, re-compressed by Python at level 6, it must be the very bytes stored.
 */
export function stockZlibProblems(storage: string): string[] {
  const manifest = path.join(storage, '.cvmfspublished');
  if (!existsSync(manifest)) return [];
  const problems: string[] = [];
  for (const line of readFileSync(manifest, 'latin1').split('\n--\n')[0]!.split('\n')) {
    const suffix = line[0];
    if (suffix !== 'X' && suffix !== 'M') continue;
    const hash = line.slice(1);
    const file = path.join(storage, 'data', hash.slice(0, 2), `${hash.slice(2)}${suffix}`);
    if (!existsSync(file)) continue;
    const stored = readFileSync(file);
    if (!pythonCompress6(pythonInflate(file)).equals(stored))
      problems.push(`${file}: not stock zlib's level-6 bytes`);
  }
  return problems;
}

/** The zlib Python was built with and runs with, e.g. `1.2.13 1.2.13` (a fork adds a suffix). */
export function pythonZlibVersions(): { built: string; runtime: string } {
  const [built, runtime] = execFileSync('python3', [
    '-c',
    'import zlib; print(zlib.ZLIB_VERSION, zlib.ZLIB_RUNTIME_VERSION)',
  ])
    .toString()
    .trim()
    .split(' ');
  return { built: built!, runtime: runtime! };
}
