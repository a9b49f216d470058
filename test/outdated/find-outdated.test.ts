import { describe, expect, it } from 'vitest';
import { findOutdated, isSecurityOrigin } from '../../src/outdated/index.js';
import { createPackageIndex } from '../../src/packages/apt/index.js';
import type { PackageRecord } from '../../src/packages/package-source.js';

function record(name: string, version: string, origin: string): PackageRecord {
  return {
    name,
    version,
    architecture: 'amd64',
    fields: new Map(),
    filename: `pool/main/${name}_${version}_amd64.deb`,
    size: 1,
    sha256: '0'.repeat(64),
    origin,
  };
}

const main = 'http://deb.debian.org/debian bookworm/main';
const updates = 'http://deb.debian.org/debian bookworm-updates/main';
const security = 'http://deb.debian.org/debian-security bookworm-security/main';

describe('isSecurityOrigin', () => {
  it('knows the security suites by name, old and new', () => {
    expect(isSecurityOrigin(security)).toBe(true);
    expect(isSecurityOrigin('http://security.debian.org stretch/updates/main')).toBe(true);
    expect(isSecurityOrigin(main)).toBe(false);
    expect(isSecurityOrigin(updates)).toBe(false);
    // The URI says security, the suite does not: the suite decides.
    expect(isSecurityOrigin('http://security.example.org/debian bookworm/main')).toBe(false);
  });
});

describe('findOutdated', () => {
  it('compares as dpkg does, takes the first source for equal versions, sorts by name', () => {
    const indices = [
      createPackageIndex([
        record('zlib1g', '1:1.2.13.dfsg-1', main),
        record('openssl', '3.0.15-1~deb12u1', main),
        record('tool', '2.0-1', main),
      ]),
      createPackageIndex([record('openssl', '3.0.15-1~deb12u1', security)]),
      createPackageIndex([record('zlib1g', '1:1.2.13.dfsg-1+b1', updates)]),
    ];
    const result = findOutdated(
      {
        zlib1g: '1:1.2.13.dfsg-1',
        openssl: '3.0.14-1~deb12u2',
        tool: '1:0.1-1',
        dropped: '1.0',
      },
      indices,
    );
    expect(result.packages).toEqual([
      // A point release carries the security fix too: the record is main's, the mark stays.
      {
        name: 'openssl',
        pinned: '3.0.14-1~deb12u2',
        available: '3.0.15-1~deb12u1',
        security: true,
        origin: main,
      },
      {
        name: 'zlib1g',
        pinned: '1:1.2.13.dfsg-1',
        available: '1:1.2.13.dfsg-1+b1',
        security: false,
        origin: updates,
      },
    ]);
    expect(result.missing).toEqual([{ name: 'dropped', pinned: '1.0' }]);
  });

  it('does not list a pin newer than what the sources carry', () => {
    const result = findOutdated({ hello: '2.0-1' }, [
      createPackageIndex([record('hello', '1.0-1', main)]),
    ]);
    expect(result).toEqual({ packages: [], missing: [] });
  });
});
