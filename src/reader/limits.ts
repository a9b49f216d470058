/**
 * Upper bounds on what the reader fetches and inflates, so that a hostile or broken server or
 * storage cannot make it use unbounded memory or time. Sizes the signed metadata declares (the
 * manifest's `B` line, `nested_catalogs.size`, a tag's `size`, a file's size and its chunks'
 * sizes) are used where known; these constants apply where nothing is declared.
 */
export const READ_LIMITS = {
  /** `.cvmfspublished`: a few hundred bytes in practice. */
  manifestBytes: 1 << 20,
  /** `.cvmfswhitelist`: a few fingerprints and a signature. */
  whitelistBytes: 1 << 20,
  /** The certificate (`X`) and meta-info (`M`) objects, inflated. */
  smallObjectBytes: 1 << 20,
  /** A catalog of unknown size, inflated (stock catalogs stay far below; a huge one is split). */
  catalogBytes: 1 << 30,
  /** The history (tag) database, inflated: a few MB even with thousands of tags. */
  historyBytes: 256 << 20,
  /** An object of unknown size read whole into memory (file content, chunks). */
  objectBytes: 1 << 30,
  /** Any other file read through a source without its own limit. */
  defaultBytes: 64 << 20,
} as const;

/**
 * Slack on a declared catalog size: a declared size bounds the inflated bytes, with room for a
 * writer that counted slightly differently, never above the fixed limit.
 */
export function declaredCatalogLimit(declared: number | undefined): number {
  if (declared === undefined || !Number.isSafeInteger(declared) || declared <= 0)
    return READ_LIMITS.catalogBytes;
  return Math.min(READ_LIMITS.catalogBytes, declared + Math.ceil(declared / 8) + (1 << 20));
}

/**
 * The most bytes a zlib stream of `inflated` bytes can take (deflate's worst-case expansion of
 * incompressible data is about 0.03 %, plus headers), also covering uncompressed objects.
 */
export function storedLimit(inflated: number): number {
  return inflated + Math.ceil(inflated / 1024) + 1024;
}
