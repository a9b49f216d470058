/**
 * The one order of names in everything a build writes (directory walks, package lists,
 * indices): by UTF-16 code units, the same on every machine and in every locale, unlike
 * `localeCompare`.
 */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A sorted copy of `items`, ordered by `compareNames` of each item's key. */
export function sortedBy<T>(items: Iterable<T>, key: (item: T) => string): T[] {
  return [...items].sort((a, b) => compareNames(key(a), key(b)));
}
