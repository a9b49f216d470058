import { createHash, type Hash } from 'node:crypto';

/** Content hash algorithms of the format; the string form is inferred from its length. */
export type HashAlgorithm = 'sha1' | 'rmd160' | 'shake128';

/** Object-name suffix: none for file content, `P` chunk, `C` catalog, `H` history, `X` certificate, `M` meta-info. */
export type ObjectSuffix = '' | 'P' | 'C' | 'H' | 'X' | 'M';

const identifiers: Record<HashAlgorithm, string> = {
  sha1: '',
  rmd160: '-rmd160',
  shake128: '-shake128',
};

/** The value stored in catalog flag bits 8–10 (enum value minus one). */
export const algorithmFlagValue: Record<HashAlgorithm, number> = {
  sha1: 0,
  rmd160: 1,
  shake128: 2,
};

export function algorithmFromFlagValue(value: number): HashAlgorithm {
  if (value === 1) return 'rmd160';
  if (value === 2) return 'shake128';
  return 'sha1';
}

/** A content hash: the raw digest and its algorithm. */
export interface ContentHash {
  algorithm: HashAlgorithm;
  digest: Buffer;
}

export function newHasher(algorithm: HashAlgorithm): Hash {
  if (algorithm === 'shake128') return createHash('shake128', { outputLength: 20 });
  if (algorithm === 'rmd160') return createHash('ripemd160');
  return createHash('sha1');
}

export function hashBytes(algorithm: HashAlgorithm, ...parts: Uint8Array[]): ContentHash {
  const hasher = newHasher(algorithm);
  for (const part of parts) hasher.update(part);
  return { algorithm, digest: hasher.digest() };
}

/** Lower-case hex plus the algorithm identifier (`…-shake128`), as written in manifests and catalogs. */
export function hashToHex(hash: ContentHash): string {
  return hash.digest.toString('hex') + identifiers[hash.algorithm];
}

/** Parses a hash string; the algorithm follows from its length (40, 47 or 49 characters). */
export function hashFromHex(text: string): ContentHash {
  const match = /^([0-9a-f]{40})(-rmd160|-shake128)?$/.exec(text);
  if (match === null) throw new Error(`not a content hash: ${JSON.stringify(text)}`);
  const algorithm: HashAlgorithm =
    match[2] === '-rmd160' ? 'rmd160' : match[2] === '-shake128' ? 'shake128' : 'sha1';
  return { algorithm, digest: Buffer.from(match[1]!, 'hex') };
}

/** Algorithm of a hash string by its suffix (the client infers it from the length). */
export function algorithmOfHex(text: string): HashAlgorithm {
  if (text.endsWith('-shake128')) return 'shake128';
  if (text.endsWith('-rmd160')) return 'rmd160';
  return 'sha1';
}

export function isHashHex(text: string): boolean {
  return /^[0-9a-f]{40}(-rmd160|-shake128)?$/.test(text);
}

/**
 * The path of an object relative to the repository root, `data/ab/cdef…<suffix>`. Hashes read from catalogs and histories
 * are untrusted: anything but a well-formed hash (say `../../etc/passwd`) is refused here,
 * before it can become part of a path or URL.
 */
export function objectPath(hashHex: string, suffix: ObjectSuffix): string {
  if (!isHashHex(hashHex))
    throw new Error(`not a content hash: ${JSON.stringify(hashHex.slice(0, 80))}`);
  return `data/${hashHex.slice(0, 2)}/${hashHex.slice(2)}${suffix}`;
}

/** Inverse of objectPath for names found under `data/`; undefined for anything else. */
export function parseObjectPath(
  relative: string,
): { hashHex: string; suffix: ObjectSuffix } | undefined {
  const match = /^data\/([0-9a-f]{2})\/([0-9a-f]{38}(?:-rmd160|-shake128)?)([PCHXM]?)$/.exec(
    relative,
  );
  if (match === null) return undefined;
  return { hashHex: match[1]! + match[2]!, suffix: match[3] as ObjectSuffix };
}

export function md5Hex(bytes: string | Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

export function sha1Hex(bytes: string | Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}
