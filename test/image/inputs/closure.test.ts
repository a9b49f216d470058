import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import { resolveImageClosure } from '../../../src/image/inputs/index.js';
import type { PackageRecord } from '../../../src/packages/package-source.js';

function record(
  name: string,
  version: string,
  fields: Record<string, string> = {},
  architecture = 'amd64',
): PackageRecord {
  return {
    name,
    version,
    architecture,
    fields: new Map(Object.entries({ Package: name, Version: version, ...fields })),
    filename: `pool/${name}_${version}.deb`,
    size: 1,
    sha256: `${name}-${version}`,
    origin: 'test',
  };
}

const archive = [
  record('linux-image-cloud-amd64', '6.1.2', {
    Depends: 'linux-image-6.1.0-2-cloud-amd64 (= 6.1.2)',
  }),
  record('linux-image-6.1.0-2-cloud-amd64', '6.1.2', {
    Depends: 'kmod, initramfs-tools | linux-initramfs-tool',
  }),
  record('kmod', '30', { Depends: 'libc6' }),
  record('initramfs-tools', '0.142'),
  record('e2fsprogs', '1.47', { 'Pre-Depends': 'libc6 (>= 2.34), libext2fs2', Depends: 'logsave' }),
  record('libext2fs2', '1.47', { Depends: 'libc6' }),
  record('logsave', '1.47', { Depends: 'libc6' }),
  record('libc6', '2.36', { Depends: 'libgcc-s1' }),
  record('libc6', '2.35', { Depends: 'libgcc-s1' }),
  record('libgcc-s1', '12.2'),
  record('kexec-tools', '2.0', { Depends: 'debconf (>= 0.5) | debconf-2.0, libc6' }),
  record('cdebconf', '0.270', { Provides: 'debconf-2.0' }),
  record('ca-certificates', '2025', { Depends: 'openssl, debconf' }, 'all'),
  record('busybox-static', '1.35', { Depends: 'awk-impl' }),
  record('mawk', '1.3', { Provides: 'awk-impl' }),
  record('gawk', '5.2', { Provides: 'awk-impl' }),
];

function resolve(overrides: Partial<Parameters<typeof resolveImageClosure>[0]> = {}) {
  return resolveImageClosure({
    records: archive,
    architecture: 'amd64',
    kernel: 'linux-image-cloud-amd64',
    programs: ['e2fsprogs'],
    files: ['ca-certificates'],
    pins: new Map(),
    ...overrides,
  });
}

describe('the boot image closure', () => {
  it('follows the kernel only to its linux-image package, programs through Depends and Pre-Depends, files not at all', () => {
    const closure = resolve();
    expect([...closure.keys()]).toEqual([
      'ca-certificates',
      'e2fsprogs',
      'libc6',
      'libext2fs2',
      'libgcc-s1',
      'linux-image-6.1.0-2-cloud-amd64',
      'linux-image-cloud-amd64',
      'logsave',
    ]);
    expect(closure.get('libc6')?.version).toBe('2.36');
    expect(closure.get('ca-certificates')?.architecture).toBe('all');
  });

  it('keeps a pinned version the index still has, and takes the newest for a pin it dropped', () => {
    expect(resolve({ pins: new Map([['libc6', '2.35']]) }).get('libc6')?.version).toBe('2.35');
    expect(resolve({ pins: new Map([['libc6', '2.30']]) }).get('libc6')?.version).toBe('2.36');
  });

  it('takes the first alternative it can, and a provider of a virtual package by name', () => {
    const closure = resolve({ programs: ['kexec-tools', 'busybox-static'] });
    // debconf is not in the index: its alternative debconf-2.0 is, through cdebconf.
    expect(closure.has('cdebconf')).toBe(true);
    // awk-impl: gawk and mawk provide it; the first by name.
    expect(closure.has('gawk')).toBe(true);
    expect(closure.has('mawk')).toBe(false);
  });

  it('a provider already chosen satisfies a virtual package', () => {
    const closure = resolve({ programs: ['busybox-static'], files: ['mawk'] });
    expect(closure.has('mawk')).toBe(true);
    expect(closure.has('gawk')).toBe(false);
  });

  it('names what is missing and who needs it', () => {
    const broken = archive.filter((item) => item.name !== 'logsave');
    try {
      resolve({ records: broken });
      expect.unreachable();
    } catch (error) {
      expect(isUcvmError(error, 'PACKAGE_MISSING')).toBe(true);
      expect((error as Error).message).toBe(
        'nothing in the index satisfies logsave, needed by e2fsprogs 1.47',
      );
    }
    expect(() => resolve({ programs: ['no-such-package'] })).toThrow(
      'no package no-such-package for amd64 in the index',
    );
  });
});
