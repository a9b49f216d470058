/**
 * The container shared by `.cvmfspublished` and `.cvmfswhitelist`: a text "letter", then
 * `--\n`, the hex hash of the letter and `\n`, then the raw signature bytes with nothing after.
 */
export interface SignedLetter {
  /** Bytes up to and including the LF before `--`. */
  letter: Buffer;
  /** The hex hash line, without its LF. */
  hashHex: string;
  signature: Buffer;
}

const separator = Buffer.from('\n--\n');

export function splitSignedLetter(bytes: Buffer): SignedLetter | undefined {
  const at = bytes.indexOf(separator);
  if (at < 0) return undefined;
  const letter = bytes.subarray(0, at + 1);
  const afterSeparator = at + separator.length;
  const hashEnd = bytes.indexOf(0x0a, afterSeparator);
  if (hashEnd < 0) return undefined;
  return {
    letter,
    hashHex: bytes.subarray(afterSeparator, hashEnd).toString('latin1'),
    signature: bytes.subarray(hashEnd + 1),
  };
}

export function joinSignedLetter(letter: Buffer, hashHex: string, signature: Buffer): Buffer {
  return Buffer.concat([letter, Buffer.from(`--\n${hashHex}\n`, 'latin1'), signature]);
}

/** Parses `K<value>` lines: key = first byte; empty lines skipped; last duplicate wins. */
export function parseKeyLines(letter: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of letter.toString('latin1').split('\n')) {
    if (line === '') continue;
    fields.set(line[0]!, line.slice(1));
  }
  return fields;
}
