/** Owner and permission bits of an entry; the file type comes from `type`. */
interface EntryBase {
  /** Path inside the archive: `usr/bin/x` (a leading `/` or `./` is dropped), `.` for the root. */
  path: string;
  /** Permission bits, 0 to 0o7777 (setuid, setgid and sticky included). */
  mode?: number;
  uid?: number;
  gid?: number;
}

/** A regular file whose bytes are given. */
export interface FileFromBytes extends EntryBase {
  type: 'file';
  content: Uint8Array;
}

/** A regular file read from the build machine when the archive is written (only its bytes). */
export interface FileFromHost extends EntryBase {
  type: 'file';
  source: string;
}

export interface DirectoryEntry extends EntryBase {
  type: 'directory';
}

export interface SymlinkEntry extends Omit<EntryBase, 'mode'> {
  type: 'symlink';
  target: string;
}

export interface DeviceEntry extends EntryBase {
  type: 'char-device' | 'block-device';
  major: number;
  minor: number;
}

/** Another name of a regular file of the same archive: the two share one inode. */
export interface HardLinkEntry {
  type: 'hardlink';
  path: string;
  /** Archive path of a `file` entry. */
  target: string;
}

export type CpioEntry =
  FileFromBytes | FileFromHost | DirectoryEntry | SymlinkEntry | DeviceEntry | HardLinkEntry;

export interface CpioOptions {
  /** The mtime of every entry (seconds since 1970): the build's SOURCE_DATE_EPOCH. */
  sourceDateEpoch: number;
}
