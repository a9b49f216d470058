import { UcvmError } from '../../errors.js';
import { parseControl } from '../debian/control.js';

/** One file listed in a Release file's SHA256 section. */
export interface ReleaseFile {
  /** Path relative to `dists/<suite>/`, e.g. `main/binary-amd64/Packages.xz`. */
  path: string;
  size: number;
  sha256: string;
}

/** The parts of a (verified) Release file that ucvm uses. */
export interface Release {
  suite: string | undefined;
  codename: string | undefined;
  date: Date | undefined;
  validUntil: Date | undefined;
  architectures: readonly string[];
  components: readonly string[];
  acquireByHash: boolean;
  /** True when `Architecture: all` packages are only in the per-architecture lists (no binary-all to read). */
  noBinaryAll: boolean;
  /** SHA256 section, by path. */
  files: ReadonlyMap<string, ReleaseFile>;
}

function parseDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value.trim());
  return Number.isNaN(time) ? undefined : new Date(time);
}

function words(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter((word) => word !== '');
}

/** Parses the text of a Release file (the signed content of InRelease). `url` is only for messages. */
export function parseRelease(text: string, url: string): Release {
  const paragraph = parseControl(text)[0];
  if (paragraph === undefined) {
    throw new UcvmError('RELEASE_SIGNATURE', `${url}: empty Release file`, {
      details:
        'The signed Release content has no fields; the archive is broken or the URL is wrong.',
    });
  }
  const files = new Map<string, ReleaseFile>();
  for (const line of (paragraph.get('SHA256') ?? '').split('\n')) {
    const [sha256, size, path] = words(line);
    if (sha256 === undefined || size === undefined || path === undefined) continue;
    files.set(path, { path, size: Number(size), sha256: sha256.toLowerCase() });
  }
  if (files.size === 0) {
    throw new UcvmError('RELEASE_SIGNATURE', `${url}: Release file lists no SHA256 checksums`, {
      details: 'ucvm only trusts index files whose SHA256 is in the signed Release file.',
    });
  }
  return {
    suite: paragraph.get('Suite')?.trim(),
    codename: paragraph.get('Codename')?.trim(),
    date: parseDate(paragraph.get('Date')),
    validUntil: parseDate(paragraph.get('Valid-Until')),
    architectures: words(paragraph.get('Architectures')),
    components: words(paragraph.get('Components')),
    acquireByHash: paragraph.get('Acquire-By-Hash')?.trim().toLowerCase() === 'yes',
    noBinaryAll: paragraph.get('No-Support-for-Architecture-all')?.trim() === 'Packages',
    files,
  };
}

/** Throws if the Release file's `Valid-Until` has passed (a replayed or stale archive). */
export function checkValidUntil(release: Release, url: string, now: Date): void {
  if (release.validUntil !== undefined && release.validUntil.getTime() < now.getTime()) {
    throw new UcvmError(
      'RELEASE_SIGNATURE',
      `${url}: Release file expired on ${release.validUntil.toISOString()}`,
      {
        details:
          'The archive metadata is past its Valid-Until date: the mirror is stale or replays old metadata. Use a current mirror, or disable the check for snapshot archives.',
      },
    );
  }
}

export type Compression = 'xz' | 'gz' | 'none';

/** A Packages index to download: where it is under `dists/<suite>/` and how to check it. */
export interface IndexCandidate extends ReleaseFile {
  compression: Compression;
}

/**
 * The listed variants of `<component>/binary-<arch>/Packages`, best first. Debian lists the
 * uncompressed file even where mirrors do not carry it, so callers try the next on a 404.
 */
export function packagesCandidates(
  release: Release,
  component: string,
  arch: string,
  compressions: readonly Compression[],
): IndexCandidate[] {
  const base = `${component}/binary-${arch}/Packages`;
  const suffix: Record<Compression, string> = { xz: '.xz', gz: '.gz', none: '' };
  const candidates: IndexCandidate[] = [];
  for (const compression of compressions) {
    const file = release.files.get(base + suffix[compression]);
    if (file !== undefined) candidates.push({ ...file, compression });
  }
  return candidates;
}

/** The `by-hash` path of a listed file (`main/binary-amd64/by-hash/SHA256/<hash>`). */
export function byHashPath(file: ReleaseFile): string {
  const slash = file.path.lastIndexOf('/');
  const dir = slash < 0 ? '' : file.path.slice(0, slash + 1);
  return `${dir}by-hash/SHA256/${file.sha256}`;
}
