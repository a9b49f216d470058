import { X509Certificate, type KeyLike } from 'node:crypto';
import { algorithmOfHex, hashBytes, hashToHex, type HashAlgorithm } from './hash.js';
import { signWhitelistHash, verifyWhitelistHash } from './signature.js';
import { joinSignedLetter, splitSignedLetter } from './signed-letter.js';

export interface Whitelist {
  fqrn: string;
  createdAt: Date;
  expiresAt: Date;
  /** Certificate fingerprints as written (`AA:BB:…`, SHA-1 of the DER certificate). */
  fingerprints: string[];
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function parseStamp(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (m === null) throw new Error(`whitelist time is not YYYYMMDDhhmmss: ${text}`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/** SHA-1 fingerprint of the DER certificate in `openssl x509 -fingerprint` form. */
export function certificateFingerprint(certificatePem: string | Buffer): string {
  return new X509Certificate(certificatePem).fingerprint;
}

export function encodeWhitelistLetter(whitelist: Whitelist): Buffer {
  const lines = [
    stamp(whitelist.createdAt),
    `E${stamp(whitelist.expiresAt)}`,
    `N${whitelist.fqrn}`,
    ...whitelist.fingerprints,
  ];
  return Buffer.from(`${lines.join('\n')}\n`, 'latin1');
}

export function signWhitelist(
  whitelist: Whitelist,
  masterKey: KeyLike,
  algorithm: HashAlgorithm = 'sha1',
): Buffer {
  const letter = encodeWhitelistLetter(whitelist);
  const hashHex = hashToHex(hashBytes(algorithm, letter));
  return joinSignedLetter(letter, hashHex, signWhitelistHash(hashHex, masterKey));
}

export interface ParsedWhitelist {
  whitelist: Whitelist;
  letter: Buffer;
  hashHex: string;
  signature: Buffer;
}

export function parseWhitelist(bytes: Buffer): ParsedWhitelist {
  const parts = splitSignedLetter(bytes);
  if (parts === undefined) throw new Error('whitelist has no signature block (`--` line)');
  const lines = parts.letter.toString('latin1').split('\n');
  const [created, expiry, name] = lines;
  if (created?.length !== 14) throw new Error('whitelist line 1 is not a 14-character time stamp');
  if (expiry?.length !== 15 || !expiry.startsWith('E'))
    throw new Error('whitelist line 2 is not E + expiry');
  if (name === undefined || !name.startsWith('N'))
    throw new Error('whitelist line 3 is not N + repository name');
  const fingerprints = lines
    .slice(3)
    .filter((line) => line !== '' && line !== 'Vpkcs7' && line !== 'Wcachain')
    .map((line) => line.split(/[ \t#]/)[0]!);
  return {
    whitelist: {
      fqrn: name.slice(1),
      createdAt: parseStamp(created),
      expiresAt: parseStamp(expiry.slice(1)),
      fingerprints,
    },
    letter: parts.letter,
    hashHex: parts.hashHex,
    signature: parts.signature,
  };
}

/** The client treats a whitelist as expired from the start of its expiry hour (UTC). */
export function whitelistExpired(whitelist: Whitelist, now: Date): boolean {
  const expiryHour = new Date(whitelist.expiresAt);
  expiryHour.setUTCMinutes(0, 0, 0);
  return now.getTime() >= expiryHour.getTime();
}

/** Returns a problem description, or undefined if the signature verifies with one of the keys. */
export function verifyWhitelistSignature(
  parsed: ParsedWhitelist,
  masterPublicKeys: readonly KeyLike[],
): string | undefined {
  const algorithm = algorithmOfHex(parsed.hashHex);
  if (hashToHex(hashBytes(algorithm, parsed.letter)) !== parsed.hashHex)
    return 'whitelist hash line does not match its content';
  if (!masterPublicKeys.some((key) => verifyWhitelistHash(parsed.hashHex, parsed.signature, key))) {
    return 'whitelist signature does not verify with the master public key';
  }
  return undefined;
}

export function normalizeFingerprint(text: string): string {
  return text.replace(/:/g, '').toLowerCase();
}
