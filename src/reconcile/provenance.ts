import { descriptionText } from '../publisher/cvmfs-server/description.js';
import { z } from 'zod';
import { IDENTITY_FIELDS, type VersionIdentity } from './identity.js';

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * Where a published or promoted tag came from, kept as the tag's description in the
 * repository's (signed) history, so anyone who can read the repository can read it, and
 * nobody without the repository key can change it.
 */
export const Provenance = z.strictObject({
  ucvm: z.literal(1),
  version: z.string().max(100),
  /** The manifest's one-line description of the version. */
  summary: z.string().max(300).optional(),
  identity: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  fields: z.strictObject(
    Object.fromEntries(IDENTITY_FIELDS.map((field) => [field, Hex64])) as Record<
      (typeof IDENTITY_FIELDS)[number],
      typeof Hex64
    >,
  ),
  commit: z
    .string()
    .regex(/^[0-9a-f]{7,64}$/)
    .optional(),
  /** The manifest it was built or promoted from, as a path in the repository at `commit`. */
  manifest: z
    .string()
    .regex(/^manifests\/[a-z]+\.yaml$/)
    .optional(),
  actor: z.string().max(100).optional(),
  run: z.string().max(300).optional(),
  at: z.string().max(40),
  /** For a promotion: the repository and tag it was copied from. */
  from: z.strictObject({ repository: z.string().max(100), tag: z.string().max(255) }).optional(),
  /** For a hotfix: why, and the packages it upgraded (name → version), for forward-port reminders. */
  hotfix: z
    .strictObject({
      reason: z.string().max(300),
      upgrades: z.record(z.string().max(100), z.string().max(100)),
    })
    .optional(),
});
export type Provenance = z.infer<typeof Provenance>;

/** The longest description we read back: a history is untrusted input too. */
const MAX_DESCRIPTION = 4096;

export function encodeProvenance(provenance: Provenance): string {
  return JSON.stringify(Provenance.parse(provenance));
}

/** The provenance in a tag's description, or undefined if it holds none (or a broken one). */
export function decodeProvenance(stored: string): Provenance | undefined {
  // A description that went through cvmfs_server travels encoded (one shell-safe word).
  const description = descriptionText(stored);
  if (description.length > MAX_DESCRIPTION || !description.startsWith('{')) return undefined;
  try {
    const parsed = Provenance.safeParse(JSON.parse(description));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function identityOf(provenance: Provenance): VersionIdentity {
  return { digest: provenance.identity, fields: provenance.fields };
}
