import type { KeyLike } from 'node:crypto';
import {
  algorithmOfHex,
  hashBytes,
  hashFromHex,
  hashToHex,
  isHashHex,
  md5Hex,
  type HashAlgorithm,
} from './hash.js';
import { signManifestHash, verifyManifestHash } from './signature.js';
import { joinSignedLetter, parseKeyLines, splitSignedLetter } from './signed-letter.js';

/** The fields of `.cvmfspublished`. Hashes are hex strings without object suffix. */
export interface Manifest {
  rootCatalog: string;
  rootCatalogSize: number;
  ttl: number;
  revision: number;
  garbageCollectable: boolean;
  fqrn: string;
  certificate: string;
  history?: string;
  publishedAt: number;
  metaInfo?: string;
  reflog?: string;
}

/** MD5 of the empty root path: the only value the client accepts in the `R` line. */
export const ROOT_PATH_HASH = md5Hex('');

/** The letter in the stock writer's key order: C B R D S G A N X H T M Y. */
export function encodeManifestLetter(manifest: Manifest): Buffer {
  const lines = [
    `C${manifest.rootCatalog}`,
    `B${manifest.rootCatalogSize}`,
    `R${ROOT_PATH_HASH}`,
    `D${manifest.ttl}`,
    `S${manifest.revision}`,
    `G${manifest.garbageCollectable ? 'yes' : 'no'}`,
    'Ano',
    `N${manifest.fqrn}`,
    `X${manifest.certificate}`,
  ];
  if (manifest.history !== undefined) lines.push(`H${manifest.history}`);
  lines.push(`T${manifest.publishedAt}`);
  if (manifest.metaInfo !== undefined) lines.push(`M${manifest.metaInfo}`);
  if (manifest.reflog !== undefined) lines.push(`Y${manifest.reflog}`);
  return Buffer.from(`${lines.join('\n')}\n`, 'latin1');
}

/** Signs the manifest with the certificate's private key; the letter hash uses the root catalog's algorithm. */
export function signManifest(manifest: Manifest, certificateKey: KeyLike): Buffer {
  const letter = encodeManifestLetter(manifest);
  const algorithm: HashAlgorithm = hashFromHex(manifest.rootCatalog).algorithm;
  const hashHex = hashToHex(hashBytes(algorithm, letter));
  return joinSignedLetter(letter, hashHex, signManifestHash(hashHex, certificateKey));
}

export interface ParsedManifest {
  manifest: Manifest;
  letter: Buffer;
  hashHex: string;
  signature: Buffer;
}

/** Parses `.cvmfspublished`, checking what the client checks before it trusts anything. */
export function parseManifest(bytes: Buffer): ParsedManifest {
  const parts = splitSignedLetter(bytes);
  if (parts === undefined) throw new Error('manifest has no signature block (`--` line)');
  const fields = parseKeyLines(parts.letter);
  const need = (key: string): string => {
    const value = fields.get(key);
    if (value === undefined) throw new Error(`manifest is incomplete: no ${key} line`);
    return value;
  };
  const rootCatalog = need('C');
  if (!isHashHex(rootCatalog)) throw new Error(`manifest C line is not a hash: ${rootCatalog}`);
  if (need('R') !== ROOT_PATH_HASH)
    throw new Error('manifest R line is not MD5 of the empty root path');
  const optionalHash = (key: string): string | undefined => {
    const value = fields.get(key);
    if (value !== undefined && !isHashHex(value))
      throw new Error(`manifest ${key} line is not a hash: ${value}`);
    return value;
  };
  const manifest: Manifest = {
    rootCatalog,
    rootCatalogSize: Number(fields.get('B') ?? 0),
    ttl: Number(need('D')),
    revision: Number(need('S')),
    garbageCollectable: fields.get('G') === 'yes',
    fqrn: fields.get('N') ?? '',
    certificate: optionalHash('X') ?? '',
    publishedAt: Number(fields.get('T') ?? 0),
  };
  const history = optionalHash('H');
  if (history !== undefined) manifest.history = history;
  const metaInfo = optionalHash('M');
  if (metaInfo !== undefined) manifest.metaInfo = metaInfo;
  const reflog = optionalHash('Y');
  if (reflog !== undefined) manifest.reflog = reflog;
  return { manifest, letter: parts.letter, hashHex: parts.hashHex, signature: parts.signature };
}

/** Checks the hash line against the letter and the signature against the certificate's public key. */
export function verifyManifestSignature(
  parsed: ParsedManifest,
  certificatePublicKey: KeyLike,
): string | undefined {
  const algorithm = algorithmOfHex(parsed.hashHex);
  const expected = hashToHex(hashBytes(algorithm, parsed.letter));
  if (expected !== parsed.hashHex) return 'manifest hash line does not match its content';
  if (!verifyManifestHash(parsed.hashHex, parsed.signature, certificatePublicKey)) {
    return 'manifest signature does not verify with the repository certificate';
  }
  return undefined;
}
