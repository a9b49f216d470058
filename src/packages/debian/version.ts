import { UcvmError } from '../../errors.js';

/** A Debian version `[epoch:]upstream[-revision]`; a missing revision is the empty string. */
export interface DebianVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Relationship operators as written in control fields, in canonical form. */
export type RelationOperator = '<<' | '<=' | '=' | '>=' | '>>';

/** Also accepts the obsolete `<` and `>`, which mean `<=` and `>=`. */
export type RelationOperatorInput = RelationOperator | '<' | '>';

const maxEpoch = 2147483647;
const upstreamPattern = /^[0-9][A-Za-z0-9.+~:-]*$/;
const revisionPattern = /^[A-Za-z0-9.+~]+$/;

function invalid(text: string, reason: string): UcvmError {
  return new UcvmError('PACKAGE_VERIFY', `invalid Debian version '${text}': ${reason}`, {
    details:
      'A Debian version is [epoch:]upstream[-revision]: the epoch is an unsigned integer, the upstream ' +
      'part starts with a digit and holds only letters, digits and . + ~ (plus - and : when a revision ' +
      'or epoch is present), the revision holds only letters, digits and . + ~.',
  });
}

/**
 * Parses a version as dpkg does (surrounding whitespace is ignored), but rejects what dpkg only
 * warns about: an upstream part not starting with a digit and characters outside Debian policy.
 */
export function parseDebianVersion(text: string): DebianVersion {
  const trimmed = text.trim();
  if (trimmed === '') throw invalid(text, 'the version is empty');
  if (/\s/.test(trimmed)) throw invalid(text, 'the version contains whitespace');

  let rest = trimmed;
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const epochText = rest.slice(0, colon);
    if (epochText === '') throw invalid(text, 'the epoch is empty');
    if (!/^[0-9]+$/.test(epochText)) throw invalid(text, 'the epoch is not a number');
    epoch = Number(epochText);
    if (epoch > maxEpoch) throw invalid(text, 'the epoch is too big');
    rest = rest.slice(colon + 1);
  }

  let revision = '';
  const hyphen = rest.lastIndexOf('-');
  if (hyphen >= 0) {
    revision = rest.slice(hyphen + 1);
    if (revision === '') throw invalid(text, 'the revision is empty');
    if (!revisionPattern.test(revision)) {
      throw invalid(text, 'the revision holds a character other than letters, digits and . + ~');
    }
    rest = rest.slice(0, hyphen);
  }

  if (rest === '') throw invalid(text, 'the upstream version is empty');
  if (!/^[0-9]/.test(rest)) throw invalid(text, 'the upstream version does not start with a digit');
  if (!upstreamPattern.test(rest)) {
    throw invalid(
      text,
      'the upstream version holds a character other than letters, digits and . + ~ - :',
    );
  }
  return { epoch, upstream: rest, revision };
}

/** True if `text` parses as a Debian version. */
export function isValidDebianVersion(text: string): boolean {
  try {
    parseDebianVersion(text);
    return true;
  } catch {
    return false;
  }
}

/** Writes a version back; the epoch is shown only when it is not 0. */
export function formatDebianVersion(version: DebianVersion): string {
  const epoch = version.epoch === 0 ? '' : `${version.epoch}:`;
  const revision = version.revision === '' ? '' : `-${version.revision}`;
  return `${epoch}${version.upstream}${revision}`;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** Sort weight of one character in a non-digit run (dpkg's `order`); 0 is end of string. */
function order(code: number): number {
  if (Number.isNaN(code) || isDigit(code)) return 0;
  if (isLetter(code)) return code;
  if (code === 126) return -1; // '~' sorts before everything, even the end of the string
  return code + 256;
}

/** dpkg's `verrevcmp`: alternating non-digit runs (by `order`) and digit runs (numerically). */
function compareFragments(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (
      (i < a.length && !isDigit(a.charCodeAt(i))) ||
      (j < b.length && !isDigit(b.charCodeAt(j)))
    ) {
      const ac = order(a.charCodeAt(i));
      const bc = order(b.charCodeAt(j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    let firstDiff = 0;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

function toVersion(version: string | DebianVersion): DebianVersion {
  return typeof version === 'string' ? parseDebianVersion(version) : version;
}

/** Compares two versions exactly as `dpkg --compare-versions`; throws on an invalid version. */
export function compareDebianVersions(
  a: string | DebianVersion,
  b: string | DebianVersion,
): -1 | 0 | 1 {
  const va = toVersion(a);
  const vb = toVersion(b);
  const result =
    va.epoch !== vb.epoch
      ? va.epoch - vb.epoch
      : compareFragments(va.upstream, vb.upstream) || compareFragments(va.revision, vb.revision);
  return result < 0 ? -1 : result > 0 ? 1 : 0;
}

/** Maps the obsolete `<` and `>` to `<=` and `>=` (what dpkg does with them). */
export function normalizeRelationOperator(op: RelationOperatorInput): RelationOperator {
  if (op === '<') return '<=';
  if (op === '>') return '>=';
  return op;
}

/** True if `version op target` holds, e.g. `satisfiesRelation('1.2-1', '>=', '1.0')`. */
export function satisfiesRelation(
  version: string | DebianVersion,
  op: RelationOperatorInput,
  target: string | DebianVersion,
): boolean {
  const result = compareDebianVersions(version, target);
  switch (normalizeRelationOperator(op)) {
    case '<<':
      return result < 0;
    case '<=':
      return result <= 0;
    case '=':
      return result === 0;
    case '>=':
      return result >= 0;
    case '>>':
      return result > 0;
  }
}
