import { describe, expect, it } from 'vitest';
import {
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  type CatalogEntry,
} from '../../src/cvmfs/catalog/entry.js';
import { isUcvmError } from '../../src/errors.js';
import {
  compareListings,
  decodeDevice,
  expectedListing,
  planExport,
  type PlacedEntry,
} from '../../src/export/index.js';

function entry(path: string, mode: number, more: Partial<CatalogEntry> = {}): PlacedEntry {
  return {
    catalog: '',
    entry: {
      path,
      mode,
      size: 0,
      mtime: 1_700_000_000,
      uid: 0,
      gid: 0,
      hardlinkGroup: 0,
      linkcount: 1,
      compression: 'zlib',
      symlink: '',
      ...more,
    },
  };
}

const root = entry('', S_IFDIR | 0o755);

function refusal(placed: PlacedEntry[]): string {
  try {
    planExport(placed);
  } catch (error) {
    if (isUcvmError(error)) return `${error.code} ${error.message}`;
    throw error;
  }
  return 'accepted';
}

describe('planExport', () => {
  it('orders parents first, groups hard links per catalog, counts each inode once', () => {
    const plan = planExport([
      entry('/d/b', S_IFREG | 0o644, { size: 5, hardlinkGroup: 1, linkcount: 2 }),
      entry('/d/a', S_IFREG | 0o644, { size: 5, hardlinkGroup: 1, linkcount: 2 }),
      { ...entry('/n/x', S_IFREG | 0o600, { size: 3, hardlinkGroup: 1 }), catalog: '/n' },
      entry('/n', S_IFDIR | 0o755),
      entry('/d', S_IFDIR | 0o755),
      entry('/dev', S_IFDIR | 0o755),
      entry('/dev/zero', S_IFCHR | 0o666, { size: 261 }),
      root,
    ]);
    expect(plan.entries.map((e) => e.path)).toEqual([
      '',
      '/d',
      '/d/a',
      '/d/b',
      '/dev',
      '/dev/zero',
      '/n',
      '/n/x',
    ]);
    expect(plan.entries.find((e) => e.path === '/d/b')?.linkedTo).toBe('/d/a');
    expect(plan.entries.find((e) => e.path === '/d/a')?.linkedTo).toBe('/d/a');
    expect(plan.entries.find((e) => e.path === '/d/a')?.nlink).toBe(2);
    // Group 1 of another catalog is another inode, and a group of one is no link.
    expect(plan.entries.find((e) => e.path === '/n/x')?.linkedTo).toBeUndefined();
    expect(plan.entries.find((e) => e.path === '/dev/zero')?.device).toEqual({
      major: 1,
      minor: 5,
    });
    expect(plan).toMatchObject({ files: 2, bytes: 8 });
  });

  it('decodes large device numbers as glibc encodes them', () => {
    // makedev(259, 70000)
    const major = 259;
    const minor = 70000;
    const dev =
      (minor & 0xff) +
      (major & 0xfff) * 0x100 +
      (minor & ~0xff) * 0x1000 +
      Math.floor(major / 0x1000) * 2 ** 44;
    expect(decodeDevice(dev)).toEqual({ major, minor });
  });

  it('refuses names and trees that cannot be written safely', () => {
    expect(refusal([entry('/a', S_IFREG)])).toMatch(/^REPO_CORRUPT .*no root directory/);
    expect(refusal([root, entry('/a/../../etc', S_IFREG)])).toMatch(/^REPO_CORRUPT .*`\.\.`/);
    expect(refusal([root, entry('/a\0b', S_IFREG)])).toMatch(/^REPO_CORRUPT .*NUL/);
    expect(refusal([root, entry('//a', S_IFREG)])).toMatch(/^REPO_CORRUPT .*empty/);
    // Through a symlink: its "children" have no directory for a parent.
    expect(
      refusal([
        root,
        entry('/l', S_IFLNK | 0o777, { symlink: '/etc' }),
        entry('/l/passwd', S_IFREG),
      ]),
    ).toMatch(/^REPO_CORRUPT \/l\/passwd: its parent is not a directory/);
    expect(refusal([root, entry('/a', S_IFREG), entry('/a', S_IFREG)])).toMatch(/twice/);
    expect(refusal([root, entry('/a', 0o170000 | 0o644)])).toMatch(/file type .* unknown/);
    expect(refusal([root, entry('/a', S_IFREG, { mtime: -1 })])).toMatch(
      /^LIMIT_EXCEEDED .*mtime -1/,
    );
    expect(refusal([root, entry('/a', S_IFREG, { mtime: 2 ** 32 })])).toMatch(/^LIMIT_EXCEEDED/);
    expect(refusal([root, entry('/l', S_IFLNK | 0o777)])).toMatch(/no target/);
    expect(
      refusal([
        root,
        entry('/a', S_IFREG, { xattrs: new Map([['system.nfs4_acl', Buffer.from('x')]]) }),
      ]),
    ).toMatch(/extended attribute "system\.nfs4_acl"/);
    expect(refusal([root, entry('/a', S_IFREG | 0o644, { size: 3 })])).toBe('accepted');
  });
});

describe('POSIX ACLs', () => {
  it('are left out of the image (squashfs cannot hold them) and reported; other xattrs stay', () => {
    const plan = planExport([
      root,
      entry('/var', S_IFDIR | 0o755),
      entry('/var/log', S_IFDIR | 0o2755, {
        xattrs: new Map([
          ['system.posix_acl_access', Buffer.from('acl')],
          ['system.posix_acl_default', Buffer.from('acl')],
          ['user.keep', Buffer.from('1')],
        ]),
      }),
      entry('/a', S_IFREG | 0o644, {
        xattrs: new Map([['system.posix_acl_access', Buffer.from('acl')]]),
      }),
    ]);
    expect([...plan.droppedAcls].sort()).toEqual([
      '/a system.posix_acl_access',
      '/var/log system.posix_acl_access',
      '/var/log system.posix_acl_default',
    ]);
    const byPath = new Map(plan.entries.map((item) => [item.path, item]));
    expect([...(byPath.get('/var/log')?.xattrs?.keys() ?? [])]).toEqual(['user.keep']);
    expect(byPath.get('/a')?.xattrs).toBeUndefined();
  });
});

describe('compareListings', () => {
  it('names every path missing, extra or different, field by field', () => {
    const plan = planExport([
      root,
      entry('/a', S_IFREG | 0o644, { size: 3 }),
      entry('/b', S_IFREG | 0o4755, { size: 1, uid: 7 }),
      entry('/l', S_IFLNK | 0o777, { symlink: 't' }),
    ]);
    const expected = expectedListing(
      plan.entries,
      new Map([
        ['/a', 'aa'],
        ['/b', 'bb'],
      ]),
    );
    expect(compareListings(expected, expected)).toEqual([]);
    const found = new Map(expected);
    found.delete('/l');
    found.set('/b', { ...expected.get('/b')!, perm: 0o755, sha256: 'cc' });
    found.set('/x', { ...expected.get('/a')!, path: '/x' });
    expect(compareListings(expected, found)).toEqual([
      { path: '/b', problem: 'perm', expected: '04755', found: '0755' },
      { path: '/b', problem: 'sha256', expected: 'bb', found: 'cc' },
      { path: '/l', problem: 'missing' },
      { path: '/x', problem: 'extra' },
    ]);
  });
});
