/**
 * A source of binary packages for the OS (Debian now; an RPM source could implement the same
 * contract later). Every record it returns has been verified against signed metadata.
 */
export interface PackageRef {
  name: string;
  version: string;
  architecture: string;
}

export interface PackageRecord extends PackageRef {
  /** The full control stanza as published in the index (field names as written). */
  fields: ReadonlyMap<string, string>;
  /** Path of the package file relative to the archive root (Debian `Filename`). */
  filename: string;
  size: number;
  sha256: string;
  /** Where the record came from, e.g. `http://host/debian bookworm/main` or `pool`. */
  origin: string;
}

export interface PackageIndex {
  /** All versions of one package name, newest first. */
  versions(name: string): readonly PackageRecord[];
  /** The record for an exact version, if the source has it. */
  find(name: string, version: string, architecture?: string): PackageRecord | undefined;
  /** Every record, in no particular order. */
  all(): Iterable<PackageRecord>;
}

export interface PackageSource {
  readonly kind: 'apt';
  /** Loads (and, if needed, refreshes and verifies) the package indices. */
  index(): Promise<PackageIndex>;
  /** Returns the path of a verified local copy of the package file, downloading it once. */
  fetch(record: PackageRecord): Promise<string>;
}
