import type { KeyObject } from 'node:crypto';
import { UcvmError } from '../errors.js';
import { Repository } from './repository.js';
import { fqrnOfLocation, type RepoSource } from './source.js';

export interface TrustOptions {
  /** Master public keys the whitelist must be signed with (at least one). */
  masterKeys: readonly KeyObject[];
  /** The repository name expected; default: the location's last path component. */
  fqrn?: string;
  now?: Date;
  /** Accept an expired whitelist (reading old snapshots after expiry; never for writing). */
  allowExpired?: boolean;
}

/**
 * Opens a repository only once the chain a client checks holds: the manifest is signed by its
 * certificate, the certificate is on a whitelist signed by one of `masterKeys`, both name the
 * expected repository, and the whitelist has not expired. Every other read of what it names
 * (history, catalogs, objects) is then checked against hashes this signed manifest vouches for.
 */
export async function openVerifiedRepository(
  source: RepoSource,
  trust: TrustOptions,
): Promise<Repository> {
  const fqrn = trust.fqrn ?? fqrnOfLocation(source.location);
  if (trust.masterKeys.length === 0)
    throw new UcvmError('KEY_MISSING', `no master public key to verify ${fqrn} with`, {
      details:
        'Pass --key <fqrn>.pub (or a --keys directory that holds it). Reading without verifying needs --no-verify.',
    });
  const repository = await Repository.open(source);
  try {
    const report = await repository.verifySignatures(
      trust.masterKeys,
      trust.now ?? new Date(),
      fqrn,
    );
    const problems = report.problems.filter(
      (problem) => !(trust.allowExpired === true && problem.startsWith('whitelist expired')),
    );
    if (problems.length > 0)
      throw new UcvmError('SIGNATURE_INVALID', `${source.location} does not verify as ${fqrn}`, {
        details: [
          ...problems.map((problem) => `- ${problem}`),
          'Nothing of it was read further. `ucvm repo verify` gives the full report.',
        ].join('\n'),
      });
    repository.markVerified();
    return repository;
  } catch (error) {
    repository.close();
    throw error;
  }
}
