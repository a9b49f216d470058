import type { PackageIndex, PackageRecord } from '../package-source.js';
import { parseControl } from '../debian/control.js';
import { compareDebianVersions } from '../debian/version.js';

/** What a Packages file held besides usable records. */
export interface ParsedPackages {
  records: PackageRecord[];
  /** Stanzas without Package, Version, Architecture, Filename, Size or SHA256: unusable, skipped. */
  skipped: number;
}

/** The fields of a Packages stanza that ucvm needs to find, fetch and verify a package. */
export interface KeyFields {
  name: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string;
}

/** The key fields of a stanza (`get` is a case-insensitive lookup), or undefined if one is unusable. */
export function keyFields(get: (name: string) => string | undefined): KeyFields | undefined {
  const name = get('Package')?.trim();
  const version = get('Version')?.trim();
  const architecture = get('Architecture')?.trim();
  const filename = get('Filename')?.trim();
  const size = Number(get('Size')?.trim() ?? Number.NaN);
  const sha256 = get('SHA256')?.trim().toLowerCase();
  if (
    !name ||
    !version ||
    !architecture ||
    !filename ||
    !Number.isSafeInteger(size) ||
    !sha256 ||
    !/^[0-9a-f]{64}$/.test(sha256)
  )
    return undefined;
  return { name, version, architecture, filename, size, sha256 };
}

/** Parses a Packages index into records; `origin` is stored on each (`<uri> <suite>/<component>`). */
export function parsePackages(text: string, origin: string): ParsedPackages {
  const records: PackageRecord[] = [];
  let skipped = 0;
  for (const paragraph of parseControl(text)) {
    const key = keyFields((name) => paragraph.get(name));
    if (key === undefined) skipped += 1;
    else records.push({ ...key, fields: paragraph.fields, origin });
  }
  return { records, skipped };
}

/** The archive root a record was published under: the first word of its origin. */
export function archiveRoot(record: PackageRecord): string {
  const space = record.origin.indexOf(' ');
  return space < 0 ? record.origin : record.origin.slice(0, space);
}

/**
 * Builds an index over records in priority order: when two records have the same name and
 * version, the first one wins (apt's source order).
 */
export function createPackageIndex(records: Iterable<PackageRecord>): PackageIndex {
  const byName = new Map<string, PackageRecord[]>();
  for (const record of records) {
    const list = byName.get(record.name);
    if (list === undefined) byName.set(record.name, [record]);
    // A name has a handful of versions: a scan is cheaper than a set of name-version keys.
    else if (!list.some((other) => other.version === record.version)) list.push(record);
  }
  for (const list of byName.values())
    if (list.length > 1) list.sort((a, b) => compareDebianVersions(b.version, a.version));
  return {
    versions(name) {
      return byName.get(name) ?? [];
    },
    find(name, version, architecture) {
      return byName
        .get(name)
        ?.find(
          (record) =>
            record.version === version &&
            (architecture === undefined || record.architecture === architecture),
        );
    },
    *all() {
      for (const list of byName.values()) yield* list;
    },
  };
}
