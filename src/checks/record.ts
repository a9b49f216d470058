import { z } from 'zod';

/**
 * Results of the checks a version passed (or failed) in a repository, kept as a property of
 * its tag database: anyone who can read the repository can read them, and nobody without the
 * repository key can forge them, since the history is named by the signed manifest.
 */
export const CHECKS_PROPERTY = 'ucvm_checks';

/** The longest property we read back: a history is untrusted input too. */
const MAX_PROPERTY = 1 << 20;

export const CheckResult = z.strictObject({
  passed: z.boolean(),
  /** When the check ran (ISO 8601). */
  at: z.string().max(40),
  /** The root catalog checked: a result holds only for the snapshot it was made on. */
  root: z.string().regex(/^[0-9a-f]{40}(?:-rmd160|-shake128)?$/),
  /** A line of detail or a link to the log (e.g. the CI run). */
  details: z.string().max(500).optional(),
});
export type CheckResult = z.infer<typeof CheckResult>;

/** Results by tag, then by check name. */
export const CheckRecords = z.record(
  z.string().max(255),
  z.record(z.string().regex(/^[a-z][a-z0-9-]{0,39}$/), CheckResult),
);
export type CheckRecords = z.infer<typeof CheckRecords>;

export function decodeChecks(value: string | undefined): CheckRecords {
  if (value === undefined || value.length > MAX_PROPERTY) return {};
  try {
    const parsed = CheckRecords.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

/** Adds one result (replacing an earlier run of the same check), forgetting tags that are gone. */
export function withCheck(
  records: CheckRecords,
  tag: string,
  name: string,
  result: CheckResult,
  existingTags: ReadonlySet<string>,
): CheckRecords {
  const next: CheckRecords = {};
  for (const [tagName, checks] of Object.entries(records))
    if (existingTags.has(tagName)) next[tagName] = { ...checks };
  next[tag] = { ...(next[tag] ?? {}), [name]: CheckResult.parse(result) };
  return next;
}

export function encodeChecks(records: CheckRecords): string {
  const text = JSON.stringify(CheckRecords.parse(records));
  if (text.length > MAX_PROPERTY)
    throw new Error(`check records exceed ${MAX_PROPERTY} bytes; remove old tags first`);
  return text;
}

/** The checks that passed for a tag on the snapshot it holds now. */
export function passedChecks(records: CheckRecords, tag: string, rootHash: string): Set<string> {
  const checks = records[tag] ?? {};
  return new Set(
    Object.entries(checks)
      .filter(([, result]) => result.passed && result.root === rootHash)
      .map(([name]) => name),
  );
}
