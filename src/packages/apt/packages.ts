import type { PackageIndex, PackageRecord } from '../package-source.js';
import { parseControl } from '../debian/control.js';
import { compareDebianVersions } from '../debian/version.js';

/** What a Packages file held besides usable records. */
export interface ParsedPackages {
  records: PackageRecord[];
  /** Stanzas without Package, Version, Architecture, Filename, Size or SHA256: unusable, skipped. */
  skipped: number;
}

/** Parses a Packages index into records; `origin` is stored on each (`<uri> <suite>/<component>`). */
export function parsePackages(text: string, origin: string): ParsedPackages {
  const records: PackageRecord[] = [];
  let skipped = 0;
  for (const paragraph of parseControl(text)) {
    const name = paragraph.get('Package')?.trim();
    const version = paragraph.get('Version')?.trim();
    const architecture = paragraph.get('Architecture')?.trim();
    const filename = paragraph.get('Filename')?.trim();
    const size = Number(paragraph.get('Size')?.trim() ?? Number.NaN);
    const sha256 = paragraph.get('SHA256')?.trim().toLowerCase();
    if (
      !name ||
      !version ||
      !architecture ||
      !filename ||
      !Number.isSafeInteger(size) ||
      !sha256 ||
      !/^[0-9a-f]{64}$/.test(sha256)
    ) {
      skipped += 1;
      continue;
    }
    records.push({
      name,
      version,
      architecture,
      fields: paragraph.fields,
      filename,
      size,
      sha256,
      origin,
    });
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
  const seen = new Set<string>();
  for (const record of records) {
    const key = `${record.name}\0${record.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const list = byName.get(record.name);
    if (list === undefined) byName.set(record.name, [record]);
    else list.push(record);
  }
  for (const list of byName.values())
    list.sort((a, b) => compareDebianVersions(b.version, a.version));
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
