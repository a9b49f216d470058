import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Replaces one `<key><value>` line of the signed letter of `.cvmfspublished`, keeping the signature. */
export function setManifestLine(storage: string, key: string, value: string): void {
  const file = path.join(storage, '.cvmfspublished');
  const bytes = readFileSync(file);
  const end = bytes.indexOf('\n--\n');
  const letter = bytes
    .subarray(0, end + 1)
    .toString('latin1')
    .split('\n')
    .map((line) => (line.startsWith(key) ? `${key}${value}` : line))
    .join('\n');
  writeFileSync(file, Buffer.concat([Buffer.from(letter, 'latin1'), bytes.subarray(end + 1)]));
}

export function manifestLine(storage: string, key: string): string {
  const text = readFileSync(path.join(storage, '.cvmfspublished'), 'latin1');
  const line = text.split('\n').find((candidate) => candidate.startsWith(key));
  if (line === undefined) throw new Error(`no ${key} line`);
  return line.slice(1);
}

/** Flips the last byte of a signed file's signature (its last byte). */
export function flipSignatureByte(file: string): void {
  const bytes = readFileSync(file);
  const last = bytes.length - 1;
  bytes.writeUInt8(bytes.readUInt8(last) ^ 0x01, last);
  writeFileSync(file, bytes);
}

/** Copies every object of one storage into another (what an attacker with write access plants). */
export function copyObjects(from: string, to: string): void {
  for (const pair of readdirSync(path.join(from, 'data'))) {
    if (pair === 'txn') continue;
    cpSync(path.join(from, 'data', pair), path.join(to, 'data', pair), {
      recursive: true,
      force: false,
    });
  }
}
