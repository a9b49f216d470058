import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpdir } from '../../helpers/tmp.js';

const LIB = path.resolve(import.meta.dirname, '../../../src/image/steering/lib');

/** Runs a snippet under busybox sh with the steering library loaded. */
function sh(dir: string, script: string, ...args: string[]): { out: string; err: string } {
  const full = `. "${LIB}/userdata.sh"; . "${LIB}/settings.sh"; ${script} 2>"$0/err"`;
  const out = execFileSync('busybox', ['sh', '-c', full, dir, ...args], {
    encoding: 'utf8',
    env: { PATH: '/bin:/usr/bin' },
  });
  return { out, err: readFileSync(path.join(dir, 'err'), 'utf8') };
}

describe('boot settings (busybox sh)', () => {
  it('reads the parameters of the kernel command line it knows, checked', async () => {
    const dir = await tmpdir();
    const cmdline =
      'BOOT_IMAGE=/vmlinuz quiet cvmfs_repos=cernvm-prod.example.org ucvm.server=s1.example.org,http://s2.example.org/cvmfs/@fqrn@ cvmfs_repository_tag=HEAD cvmdebug console=ttyS0 ucvm.proxy=$(reboot) ucvm.tag=*';
    const { err } = sh(dir, 'ucvm_parse_cmdline "$1" "$0/cmdline"', cmdline);
    expect(readFileSync(path.join(dir, 'cmdline'), 'utf8')).toBe(
      [
        'cvmfs_branch=cernvm-prod.example.org',
        'cvmfs_server=s1.example.org,http://s2.example.org/cvmfs/@fqrn@',
        'cvmfs_tag=HEAD',
        'debug=1',
        '',
      ].join('\n'),
    );
    expect(err).toBe(
      [
        'ucernvm: kernel command line: ucvm.proxy: not a proxy list (ignored)',
        'ucernvm: kernel command line: ucvm.tag: not a tag name (ignored)',
        '',
      ].join('\n'),
    );
  });

  it('lets the context win over the command line over the image defaults', async () => {
    const dir = await tmpdir();
    writeFileSync(
      path.join(dir, 'defaults'),
      'cvmfs_branch=cernvm-prod.example.org\ncvmfs_server=s1.example.org\ncvmfs_tag=HEAD\n',
    );
    writeFileSync(
      path.join(dir, 'cmdline'),
      'cvmfs_http_proxy=http://squid:3128\ncvmfs_tag=HEAD\n',
    );
    writeFileSync(path.join(dir, 'context'), 'cvmfs_tag=cernvm-system-1.0.0\n');
    sh(
      dir,
      'ucvm_merge_settings "$0/settings" "$0/defaults" "$0/cmdline" "$0/context" "$0/absent"',
    );
    expect(readFileSync(path.join(dir, 'settings'), 'utf8')).toBe(
      [
        'cvmfs_branch=cernvm-prod.example.org',
        'cvmfs_server=s1.example.org',
        'cvmfs_http_proxy=http://squid:3128',
        'cvmfs_tag=cernvm-system-1.0.0',
        '',
      ].join('\n'),
    );
  });

  it('writes the client configuration: servers as URLs, the tag, or the pinned root hash', async () => {
    const dir = await tmpdir();
    writeFileSync(
      path.join(dir, 'settings'),
      'cvmfs_branch=cernvm-prod.example.org\ncvmfs_server=s1.example.org,http://127.0.0.1:8080/cvmfs/@fqrn@\ncvmfs_http_proxy=http://squid:3128;DIRECT\ncvmfs_tag=HEAD\n',
    );
    const tagged = sh(dir, 'ucvm_client_config "$0/settings" /mnt/.rw/cache /etc/cvmfs/keys/x').out;
    expect(tagged).toContain(
      'CVMFS_SERVER_URL="http://s1.example.org/cvmfs/@fqrn@;http://127.0.0.1:8080/cvmfs/@fqrn@"\n',
    );
    expect(tagged).toContain('CVMFS_HTTP_PROXY="http://squid:3128;DIRECT"\n');
    expect(tagged).toContain('CVMFS_CACHE_BASE="/mnt/.rw/cache"\n');
    expect(tagged).toContain('CVMFS_AUTO_UPDATE=no\n');
    expect(tagged).toContain('CVMFS_REPOSITORY_TAG="HEAD"\n');
    expect(tagged).not.toContain('CVMFS_ROOT_HASH');
    const pinned = sh(
      dir,
      'ucvm_client_config "$0/settings" /c /k "$1"',
      'd90b8d2723754536c2889a2a4c1808bbbdcc8b2d',
    ).out;
    expect(pinned).toContain('CVMFS_ROOT_HASH="d90b8d2723754536c2889a2a4c1808bbbdcc8b2d"\n');
    expect(pinned).not.toContain('CVMFS_REPOSITORY_TAG');
    // Every line is an assignment the client's parser reads; nothing else.
    for (const line of pinned.trim().split('\n'))
      expect(line).toMatch(/^CVMFS_[A-Z_]+=("[^"$`\\]*"|[a-z0-9]+)$/);
  });

  it('says clearly what is missing or wrong, instead of mounting something', async () => {
    const dir = await tmpdir();
    writeFileSync(path.join(dir, 'settings'), 'cvmfs_tag=HEAD\n');
    expect(() => sh(dir, 'ucvm_client_config "$0/settings" /c /k')).toThrow();
    expect(readFileSync(path.join(dir, 'err'), 'utf8')).toContain('no repository or server given');
    writeFileSync(path.join(dir, 'settings'), 'cvmfs_branch=r.example.org\ncvmfs_server=s\n');
    expect(() => sh(dir, 'ucvm_client_config "$0/settings" /c /k "$1"', '$(reboot)')).toThrow();
    expect(readFileSync(path.join(dir, 'err'), 'utf8')).toContain(
      'the pinned root hash is not a hash',
    );
  });
});
