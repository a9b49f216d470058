import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { run } from '../../exec/index.js';
import type { SignedBy } from './sources.js';

/** Converts ASCII-armored OpenPGP blocks to binary packets; gpgv only reads binary keyrings. */
export function dearmor(text: string): Buffer {
  const parts: Buffer[] = [];
  const blocks = text.split(/^-----BEGIN PGP [A-Z ]+-----\r?$/m).slice(1);
  for (const block of blocks) {
    const lines = block.split(/\r?\n/);
    const blank = lines.findIndex((line, index) => index > 0 && line.trim() === '');
    const body: string[] = [];
    for (const line of lines.slice(blank + 1)) {
      // The body ends at the CRC line ("=XXXX") or the END line; base64 lines never start with "=".
      if (line.startsWith('=') || line.startsWith('-----END')) break;
      body.push(line.trim());
    }
    parts.push(Buffer.from(body.join(''), 'base64'));
  }
  return Buffer.concat(parts);
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort().map((name) => path.join(dir, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** The keyrings apt trusts when an entry has no `Signed-By` (paths under `rootDir`). */
export async function defaultKeyrings(rootDir: string): Promise<string[]> {
  const candidates = [
    path.join(rootDir, 'usr/share/keyrings/debian-archive-keyring.gpg'),
    path.join(rootDir, 'etc/apt/trusted.gpg'),
    ...(await listDir(path.join(rootDir, 'etc/apt/trusted.gpg.d'))).filter((file) =>
      /\.(gpg|asc)$/.test(file),
    ),
  ];
  const found: string[] = [];
  for (const file of candidates) if (await exists(file)) found.push(file);
  return found;
}

/**
 * Writes the keyrings for one source into `workDir` as binary files gpgv can read, and returns
 * their paths and the fingerprints a signature must match (empty: any key in the keyrings).
 */
export async function prepareKeyrings(
  signedBy: SignedBy | undefined,
  rootDir: string,
  workDir: string,
): Promise<{ keyrings: string[]; fingerprints: readonly string[] }> {
  const sources: { name: string; text?: string }[] = [];
  if (signedBy?.inlineKey !== undefined)
    sources.push({ name: 'Signed-By (inline key)', text: signedBy.inlineKey });
  // Fingerprints alone select keys from the default keyrings, as in apt.
  const useDefaults =
    signedBy === undefined || (signedBy.keyrings.length === 0 && signedBy.inlineKey === undefined);
  const files = useDefaults ? await defaultKeyrings(rootDir) : signedBy.keyrings;
  for (const file of files) sources.push({ name: file });
  if (sources.length === 0) {
    throw new UcvmError('KEY_MISSING', 'no apt keyring to verify Release files with', {
      details: `Give the source a Signed-By keyring, or install debian-archive-keyring under ${rootDir}.`,
    });
  }
  const keyrings: string[] = [];
  for (const [index, source] of sources.entries()) {
    let data: Buffer;
    try {
      data = source.text !== undefined ? Buffer.from(source.text) : await readFile(source.name);
    } catch (error) {
      throw new UcvmError('KEY_MISSING', `${source.name}: keyring not readable`, {
        details: `The apt source names this keyring in Signed-By; install it or fix the path. (${(error as Error).message})`,
        cause: error,
      });
    }
    const binary = data.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP')
      ? dearmor(data.toString('utf8'))
      : data;
    const target = path.join(workDir, `keyring-${index}.gpg`);
    await writeFile(target, binary);
    keyrings.push(target);
  }
  return { keyrings, fingerprints: signedBy?.fingerprints ?? [] };
}

// gpgv status lines that explain a failure, in the words a person can act on.
const reasons: Record<string, string> = {
  NO_PUBKEY: 'signed by a key that is not in the keyring',
  BADSIG: 'bad signature (the file was modified after signing)',
  EXPKEYSIG: 'signed by an expired key',
  REVKEYSIG: 'signed by a revoked key',
  EXPSIG: 'the signature has expired',
  ERRSIG: 'the signature could not be checked',
  NODATA: 'no OpenPGP signature found',
};

function signatureError(url: string, reason: string, stderr: string): UcvmError {
  return new UcvmError('RELEASE_SIGNATURE', `${url}: ${reason}`, {
    details: `gpgv: ${stderr.trim().split('\n').slice(-6).join('\n')}\nCheck the source's Signed-By keyring; never use a Release file that does not verify.`,
  });
}

export interface SignatureInput {
  /** URL of the signed file, for messages. */
  url: string;
  /** InRelease bytes, or the detached Release.gpg signature. */
  signature: Buffer;
  /** For a detached signature: the Release bytes it signs. */
  signed?: Buffer;
  signedBy: SignedBy | undefined;
  rootDir: string;
}

/**
 * Verifies an InRelease (clearsigned) or Release + Release.gpg with gpgv and returns the signed
 * text: for InRelease, only what the signature covers. Throws RELEASE_SIGNATURE with gpgv's reason.
 */
export async function verifyReleaseSignature(input: SignatureInput): Promise<string> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ucvm-gpgv-'));
  try {
    const { keyrings, fingerprints } = await prepareKeyrings(input.signedBy, input.rootDir, work);
    const signatureFile = path.join(work, 'signature');
    await writeFile(signatureFile, input.signature);
    const args = [
      '--homedir',
      work,
      '--status-fd',
      '1',
      ...keyrings.flatMap((keyring) => ['--keyring', keyring]),
    ];
    const output = path.join(work, 'signed');
    if (input.signed === undefined) {
      args.push('--output', output, signatureFile);
    } else {
      await writeFile(output, input.signed);
      args.push(signatureFile, output);
    }
    const result = await run('gpgv', args, { okExitCodes: [0, 1, 2] });
    const status = result.stdout.split('\n').filter((line) => line.startsWith('[GNUPG:] '));
    const keywords = status.map((line) => line.split(' ')[1] ?? '');
    const valid = status
      .filter((line) => line.startsWith('[GNUPG:] VALIDSIG '))
      .flatMap((line) => {
        const fields = line.split(' ');
        return [fields[2] ?? '', fields.at(-1) ?? ''].map((fpr) => fpr.toUpperCase());
      });
    if (result.exitCode !== 0 || valid.length === 0) {
      const known = Object.keys(reasons).find((keyword) => keywords.includes(keyword));
      throw signatureError(
        input.url,
        known === undefined ? `gpgv exit code ${result.exitCode}` : (reasons[known] ?? known),
        result.stderr,
      );
    }
    if (
      fingerprints.length > 0 &&
      !fingerprints.some((fpr) => valid.some((v) => v.endsWith(fpr)))
    ) {
      throw signatureError(
        input.url,
        `signed by ${valid[0] ?? '?'}, not by a key named in Signed-By`,
        result.stderr,
      );
    }
    return await readFile(output, 'utf8');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
