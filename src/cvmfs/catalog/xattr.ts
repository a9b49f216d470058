/**
 * Extended attributes blob (`xattr.cc` Serialize): version 1, pair count, then for each pair
 * key length, value length, key, value; keys in ascending byte order; each length at most 255.
 */
export type Xattrs = ReadonlyMap<string, Buffer>;

export function xattrProblem(key: string, value: Buffer): string | undefined {
  const keyLength = Buffer.byteLength(key);
  if (keyLength === 0 || keyLength > 255)
    return `extended attribute name must be 1 to 255 bytes: ${key}`;
  if (key.includes('\0')) return `extended attribute name contains NUL: ${key}`;
  if (value.length > 255)
    return `extended attribute ${key} is ${value.length} bytes; the format holds at most 255`;
  return undefined;
}

export function encodeXattrs(xattrs: Xattrs): Buffer | undefined {
  if (xattrs.size === 0) return undefined;
  if (xattrs.size > 255)
    throw new Error(`too many extended attributes (${xattrs.size}); the format holds 255`);
  const keys = [...xattrs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts: Buffer[] = [Buffer.from([1, keys.length])];
  for (const key of keys) {
    const value = xattrs.get(key)!;
    const problem = xattrProblem(key, value);
    if (problem !== undefined) throw new Error(problem);
    const keyBytes = Buffer.from(key);
    parts.push(Buffer.from([keyBytes.length, value.length]), keyBytes, value);
  }
  return Buffer.concat(parts);
}

export function decodeXattrs(blob: Buffer): Map<string, Buffer> {
  const result = new Map<string, Buffer>();
  if (blob.length < 2 || blob[0] !== 1) throw new Error('unsupported extended attribute blob');
  let at = 2;
  for (let i = 0; i < blob[1]!; i++) {
    const keyLength = blob[at]!;
    const valueLength = blob[at + 1]!;
    at += 2;
    const key = blob.subarray(at, at + keyLength).toString();
    at += keyLength;
    result.set(key, Buffer.from(blob.subarray(at, at + valueLength)));
    at += valueLength;
  }
  return result;
}
