import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { HistoryDatabase } from '../../cvmfs/history.js';
import { verifyManifestSignature } from '../../cvmfs/manifest.js';
import { whitelistExpired, type ParsedWhitelist } from '../../cvmfs/whitelist.js';
import { UcvmError, isUcvmError } from '../../errors.js';
import { loadPublicKey } from '../../keys/index.js';
import { Repository } from '../../reader/repository.js';
import type { EmbeddedContext } from './context.js';

/** What a writer builds on, each part checked against the repository's own keys. */
export interface VerifiedBase {
  repository: Repository;
  /** The tag database the manifest names (a new, empty one if it names none). */
  history: HistoryDatabase;
  whitelist: ParsedWhitelist;
}

export interface BaseCheck {
  /**
   * `signing`: the whitelist must be valid, signed by our master key and list the certificate
   * (publish, tag, untag). `replacing`: the whitelist is about to be replaced (resign): the
   * manifest must then be signed by our own certificate. `reading`: as signing, but an
   * expired whitelist is accepted (gc signs nothing).
   */
  purpose: 'signing' | 'replacing' | 'reading';
  /** Our certificate (PEM), from the keys directory; needed for `replacing`. */
  certificatePem?: string;
}

/**
 * Opens the current revision through the same path any reader uses, then checks the chain a
 * client checks, with the keys of this repository rather than the ones the storage offers:
 * manifest signed by its certificate, certificate on a whitelist signed by our master key,
 * names right, history present and matching its hash. Whoever can write the storage cannot
 * make us sign a root catalog or history we did not publish.
 */
export async function openVerifiedBase(
  context: EmbeddedContext,
  check: BaseCheck,
): Promise<VerifiedBase> {
  const masterKey = await masterPublicKey(context);
  const repository = await Repository.open(context.storage.source());
  try {
    const problems: string[] = [];
    const { manifest } = repository;
    if (check.purpose === 'replacing') {
      // The whitelist is about to be replaced: what must hold is that the manifest is ours.
      if (manifest.fqrn !== context.fqrn)
        problems.push(`manifest names repository ${manifest.fqrn}, expected ${context.fqrn}`);
      const certificate = await attempt(problems, 'certificate', async () => {
        const parsed = new X509Certificate(await repository.certificatePem());
        const problem = verifyManifestSignature(
          repository.parsed,
          createPublicKey(parsed.publicKey.export({ type: 'spki', format: 'pem' })),
        );
        if (problem !== undefined) problems.push(problem);
        return parsed;
      });
      if (
        certificate !== undefined &&
        (check.certificatePem === undefined ||
          !certificate.raw.equals(new X509Certificate(check.certificatePem).raw))
      )
        problems.push(
          `the manifest is not signed with this repository's certificate (${context.keys.certificate})`,
        );
    } else {
      // The chain any reader checks, with our own master key and name.
      const report = await repository.verifySignatures([masterKey], context.now(), context.fqrn);
      problems.push(
        ...report.problems.filter((problem) => !problem.startsWith('whitelist expired')),
      );
    }
    const whitelist = await attempt(problems, 'whitelist', () => repository.whitelist());
    const history = await attempt(problems, 'history', async () =>
      manifest.history === undefined
        ? HistoryDatabase.create(context.fqrn)
        : (await repository.history())!,
    );
    if (problems.length > 0 || whitelist === undefined || history === undefined)
      throw refusal(context, problems);
    if (check.purpose === 'signing' && whitelistExpired(whitelist.whitelist, context.now()))
      throw new UcvmError(
        'WHITELIST_EXPIRED',
        `the whitelist of ${context.fqrn} expired on ${whitelist.whitelist.expiresAt.toISOString()}`,
        {
          details:
            'Clients would refuse a new revision. Renew it with `ucvm keys resign <repo>` (needs the master key).',
        },
      );
    const left = whitelist.whitelist.expiresAt.getTime() - context.now().getTime();
    if (check.purpose === 'signing' && left < 7 * 24 * 3600_000)
      context.logger.warn('the whitelist expires soon; renew it with ucvm keys resign', {
        expires: whitelist.whitelist.expiresAt.toISOString(),
      });
    return { repository, history, whitelist };
  } catch (error) {
    repository.close();
    throw error;
  }
}

async function masterPublicKey(context: EmbeddedContext): Promise<KeyObject> {
  try {
    return await loadPublicKey(context.keys.masterPublicKey);
  } catch (error) {
    if (isUcvmError(error, 'KEY_MISSING'))
      throw new UcvmError(
        'KEY_MISSING',
        `cannot verify ${context.fqrn} before writing to it: no master public key at ${context.keys.masterPublicKey}`,
        {
          details:
            'Every write first checks the signed state it builds on with the master public key. Put <fqrn>.pub in the keys directory (--keys).',
          where: { path: context.keys.masterPublicKey },
        },
      );
    throw error;
  }
}

async function attempt<T>(
  problems: string[],
  what: string,
  work: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    problems.push(`${what}: ${(error as Error).message}`);
    return undefined;
  }
}

function refusal(context: EmbeddedContext, problems: string[]): UcvmError {
  return new UcvmError(
    'BASE_UNVERIFIED',
    `refusing to write ${context.fqrn}: the revision it would build on does not verify`,
    {
      details: [
        ...problems.map((problem) => `- ${problem}`),
        `Nothing was written. \`ucvm repo verify ${context.storage.location}\` shows the full report; restore the storage from a trusted copy (or publish from a trusted one). ucvm never re-signs what it cannot verify.`,
      ].join('\n'),
      where: { path: context.storage.location },
    },
  );
}
