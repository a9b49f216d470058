import { constants, createHash, privateEncrypt, publicDecrypt, type KeyLike } from 'node:crypto';

// DigestInfo prefix of SHA-1 (RFC 8017 §9.2 note 1). Building it ourselves keeps signing
// independent of the OpenSSL policy on SHA-1 signatures; the bytes are those of EVP_Sign.
const sha1DigestInfo = Buffer.from('3021300906052b0e03021a05000414', 'hex');

/** Manifest signature: RSASSA-PKCS1-v1_5 with SHA-1 over the ASCII hex hash of the letter. */
export function signManifestHash(hashHex: string, certificateKey: KeyLike): Buffer {
  const digest = createHash('sha1').update(hashHex, 'latin1').digest();
  return privateEncrypt(
    { key: certificateKey, padding: constants.RSA_PKCS1_PADDING },
    Buffer.concat([sha1DigestInfo, digest]),
  );
}

export function verifyManifestHash(
  hashHex: string,
  signature: Buffer,
  publicKey: KeyLike,
): boolean {
  const expected = Buffer.concat([
    sha1DigestInfo,
    createHash('sha1').update(hashHex, 'latin1').digest(),
  ]);
  return recovers(signature, publicKey, expected);
}

/** Whitelist signature: raw PKCS#1 type-1 of the ASCII hex hash, no DigestInfo. */
export function signWhitelistHash(hashHex: string, masterKey: KeyLike): Buffer {
  return privateEncrypt(
    { key: masterKey, padding: constants.RSA_PKCS1_PADDING },
    Buffer.from(hashHex, 'latin1'),
  );
}

export function verifyWhitelistHash(
  hashHex: string,
  signature: Buffer,
  masterPublicKey: KeyLike,
): boolean {
  return recovers(signature, masterPublicKey, Buffer.from(hashHex, 'latin1'));
}

function recovers(signature: Buffer, publicKey: KeyLike, expected: Buffer): boolean {
  try {
    const recovered = publicDecrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
      signature,
    );
    return recovered.equals(expected);
  } catch {
    return false;
  }
}
