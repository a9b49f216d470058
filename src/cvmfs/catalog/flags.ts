import { algorithmFlagValue, algorithmFromFlagValue, type HashAlgorithm } from '../hash.js';
import { entryKind, type CatalogEntry, type Compression } from './entry.js';

export const FLAG_DIR = 1;
export const FLAG_NESTED_MOUNTPOINT = 2;
export const FLAG_FILE = 4;
export const FLAG_LINK = 8;
export const FLAG_SPECIAL = 16;
export const FLAG_NESTED_ROOT = 32;
export const FLAG_CHUNKED = 64;
export const FLAG_EXTERNAL = 128;
export const FLAG_BIND_MOUNTPOINT = 0x4000;
export const FLAG_HIDDEN = 0x8000;
export const FLAG_DIRECT_IO = 0x10000;

const HASH_SHIFT = 8;
const HASH_MASK = 0x700;
const COMPRESSION_SHIFT = 11;
const COMPRESSION_MASK = 0x3800;

/** The `flags` column as the stock writer computes it (`CreateDatabaseFlags`). */
export function encodeFlags(entry: CatalogEntry): number {
  const kind = entryKind(entry);
  let flags = 0;
  if (kind === 'directory') {
    flags |= FLAG_DIR;
    if (entry.nestedMountpoint === true) flags |= FLAG_NESTED_MOUNTPOINT;
    if (entry.nestedRoot === true) flags |= FLAG_NESTED_ROOT;
  } else {
    flags |= FLAG_FILE;
    if (kind === 'symlink') flags |= FLAG_LINK;
    if (kind === 'special') flags |= FLAG_SPECIAL;
  }
  if (kind === 'regular') {
    const chunked = entry.chunks !== undefined && entry.chunks.length > 0;
    if (chunked) flags |= FLAG_CHUNKED;
    const algorithm: HashAlgorithm | undefined =
      entry.hash?.algorithm ?? entry.chunks?.[0]?.hash.algorithm;
    if (algorithm !== undefined) flags |= algorithmFlagValue[algorithm] << HASH_SHIFT;
    if (entry.compression === 'none') flags |= 1 << COMPRESSION_SHIFT;
  }
  if (entry.hidden === true) flags |= FLAG_HIDDEN;
  return flags;
}

export function flagsHashAlgorithm(flags: number): HashAlgorithm {
  return algorithmFromFlagValue((flags & HASH_MASK) >> HASH_SHIFT);
}

export function flagsCompression(flags: number): Compression {
  return (flags & COMPRESSION_MASK) >> COMPRESSION_SHIFT === 1 ? 'none' : 'zlib';
}
