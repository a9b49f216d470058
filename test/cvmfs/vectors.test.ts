import { describe, expect, it } from 'vitest';
import { compress, decompress } from '../../src/cvmfs/compression.js';
import {
  hashBytes,
  hashFromHex,
  hashToHex,
  objectPath,
  parseObjectPath,
} from '../../src/cvmfs/hash.js';
import { normalizeRepoPath, parentPath, pathHash } from '../../src/cvmfs/catalog/path-hash.js';
import { decodeXattrs, encodeXattrs } from '../../src/cvmfs/catalog/xattr.js';
import { fqrnProblem, tagNameProblem, automaticTagName } from '../../src/cvmfs/fqrn.js';

describe('format test vectors (cvmfs-format.md §2.6, §5.5, §5.9)', () => {
  it('compresses the empty file to the well-known object', () => {
    const stored = compress(Buffer.alloc(0));
    expect(stored.toString('hex')).toBe('789c030000000001');
    expect(hashToHex(hashBytes('sha1', stored))).toBe('e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78');
  });

  it('hashes the compressed bytes of hello', () => {
    const stored = compress(Buffer.from('hello\n'));
    expect(stored.toString('hex')).toBe('789ccb48cdc9c9e70200084b021f');
    expect(hashToHex(hashBytes('sha1', stored))).toBe('5798f7f4ca7585d850eea64610a1f73d8f8de7a3');
    expect(decompress(stored).toString()).toBe('hello\n');
  });

  it('names SHAKE-128 hashes with their identifier', () => {
    const hash = hashBytes('shake128', Buffer.alloc(0));
    expect(hashToHex(hash)).toBe('7f9c2ba4e88f827d616045507605853ed73b8093-shake128');
    expect(hashFromHex(hashToHex(hash))).toEqual(hash);
    expect(objectPath(hashToHex(hash), 'C')).toBe(
      'data/7f/9c2ba4e88f827d616045507605853ed73b8093-shake128C',
    );
  });

  it('parses object paths back', () => {
    expect(parseObjectPath('data/e8/ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78P')).toEqual({
      hashHex: 'e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78',
      suffix: 'P',
    });
    expect(parseObjectPath('data/txn/foo')).toBeUndefined();
  });

  it.each([
    ['', 338333539836370388n, 9098107892288553193n],
    ['/software', 3445601412511816508n, 6267067367417020806n],
    ['/software/v1', 5933606009665733622n, -8320353742129006166n],
    ['/software/v1/bin/tool', 5989539882497694957n, -8029185447373499907n],
  ])('splits the MD5 of %j into signed little-endian halves', (path, high, low) => {
    expect(pathHash(path)).toEqual({ high, low });
  });

  it('encodes the xattr example of §5.9', () => {
    const blob = encodeXattrs(new Map([['user.foo', Buffer.from('bar')]]));
    expect(blob?.toString('hex')).toBe('010108037573657' + '22e666f6f626172');
    expect(decodeXattrs(blob!)).toEqual(new Map([['user.foo', Buffer.from('bar')]]));
    expect(encodeXattrs(new Map())).toBeUndefined();
  });

  it('normalizes repository paths', () => {
    expect(normalizeRepoPath('/')).toBe('');
    expect(normalizeRepoPath('a//b/')).toBe('/a/b');
    expect(parentPath('/a')).toBe('');
    expect(parentPath('/a/b')).toBe('/a');
    expect(() => normalizeRepoPath('/a/../b')).toThrow();
  });

  it.each([
    ['os.example.org', undefined],
    ['cernvm-prod.cern.ch', undefined],
    ['nodot', 'fully qualified'],
    ['-bad.example.org', 'start with'],
    ['bad name.example.org', 'may contain only'],
    [`${'a'.repeat(58)}.org`, 'at most 60'],
  ])('validates repository name %j', (name, problem) => {
    const found = fqrnProblem(name);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it('validates tag names and makes automatic ones', () => {
    expect(tagNameProblem('cernvm-system-1.2.3')).toBeUndefined();
    expect(tagNameProblem('has space')).toBeDefined();
    const taken = new Set(['generic-2026-01-02T03:04:05Z']);
    expect(automaticTagName(new Date('2026-01-02T03:04:05.678Z'), (n) => taken.has(n))).toBe(
      'generic_1-2026-01-02T03:04:05Z',
    );
  });
});
