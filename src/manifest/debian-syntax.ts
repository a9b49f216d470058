/**
 * Syntax of Debian package names and versions (Debian Policy 5.6.1 and 5.6.12). Ordering of
 * versions lives in src/packages/debian/version.ts; this file only says what may be written.
 */

/** Lower case letters, digits, `+ - .`; at least two characters, starting alphanumeric. */
export const debianPackageNamePattern = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * `[epoch:]upstream[-revision]`: the upstream part starts with a digit; a hyphen means a
 * revision follows, so the version cannot end with one.
 */
export const debianVersionPattern = /^(?:[0-9]+:)?[0-9](?:[A-Za-z0-9.+~-]*[A-Za-z0-9.+~])?$/;

/** Operators and wildcards of version ranges (npm, apt preferences, dependency fields). */
const rangeSyntax = /^\s*[\^~<>=!*]|[*|,\s]/;

export function isDebianPackageName(name: string): boolean {
  return debianPackageNamePattern.test(name);
}

export function isExactDebianVersion(version: string): boolean {
  return debianVersionPattern.test(version);
}

/** Why `version` is not an exact Debian version, or undefined when it is one. */
export function debianVersionProblem(version: string): string | undefined {
  if (isExactDebianVersion(version)) return undefined;
  if (version === '' || rangeSyntax.test(version)) {
    return `expected an exact version, got ${JSON.stringify(version)}`;
  }
  return `expected a Debian version [epoch:]upstream[-revision] such as 5.2.15-2+b2, got ${JSON.stringify(version)}`;
}
