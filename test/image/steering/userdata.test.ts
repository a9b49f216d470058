import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { tmpdir } from '../../helpers/tmp.js';

const LIBRARY = path.resolve(import.meta.dirname, '../../../src/image/steering/lib/userdata.sh');

/** Runs the parser under busybox sh, as the initramfs will; returns what it stored and said. */
async function parse(
  input: Buffer | string,
): Promise<{ stored: string; said: string; dir: string }> {
  const dir = await tmpdir();
  writeFileSync(path.join(dir, 'user-data'), input);
  const script = `. "${LIBRARY}"; ucvm_parse_user_data "$1/user-data" "$1/context" 2>"$1/said"`;
  execFileSync('busybox', ['sh', '-c', script, 'sh', dir], {
    cwd: dir,
    env: { PATH: '/bin:/usr/bin' },
  });
  return {
    stored: readFileSync(path.join(dir, 'context'), 'utf8'),
    said: readFileSync(path.join(dir, 'said'), 'utf8'),
    dir,
  };
}

const block = [
  '#!/bin/sh',
  'echo this is a script for cloud-init',
  '[ucernvm-begin]',
  'CVMFS_BRANCH=cernvm-prod.example.org',
  'cvmfs_server=http://s1.example.org/cvmfs/@fqrn@,http://s2.example.org/cvmfs/@fqrn@',
  'cvmfs_http_proxy=http://squid.example.org:3128;DIRECT',
  'cvmfs_tag = cernvm-system-1.2.0',
  'resize_rootfs=off',
  'debug=Yes',
  '[ucernvm-end]',
  'cvmfs_tag=outside-the-block',
];

describe('the user-data parser (busybox sh)', () => {
  it('stores the checked keys of the μCernVM section', async () => {
    const { stored, said } = await parse(`${block.join('\n')}\n`);
    expect(stored).toBe(
      [
        'cvmfs_branch=cernvm-prod.example.org',
        'cvmfs_server=http://s1.example.org/cvmfs/@fqrn@,http://s2.example.org/cvmfs/@fqrn@',
        'cvmfs_http_proxy=http://squid.example.org:3128;DIRECT',
        'cvmfs_tag=cernvm-system-1.2.0',
        'resize_rootfs=0',
        'debug=1',
        '',
      ].join('\n'),
    );
    expect(said).toBe('');
  });

  it('reads CRLF, a last line without a newline, and gzip-compressed user data the same', async () => {
    const expected = (await parse(`${block.join('\n')}\n`)).stored;
    expect((await parse(block.join('\r\n'))).stored).toBe(expected);
    expect((await parse(gzipSync(`${block.join('\r\n')}\r\n`))).stored).toBe(expected);
    const open = ['[ucernvm-begin]', 'cvmfs_tag=cernvm-system-1.0.0'].join('\n');
    expect((await parse(open)).stored).toBe('cvmfs_tag=cernvm-system-1.0.0\n');
  });

  it('never executes a value, refuses what a key cannot hold, and says which line', async () => {
    const { stored, said, dir } = await parse(
      [
        '[ucernvm-begin]',
        `cvmfs_tag=$(touch ${path.join('/tmp', 'pwned')})`,
        'cvmfs_branch=`reboot`',
        'cvmfs_http_proxy=http://p:3128 ; reboot',
        'cvmfs_wait_on_squid=ten',
        'debug=maybe',
        'colour=blue',
        'no equals sign here',
        'cvmfs_tag=cernvm-system-1.1.0',
        '[ucernvm-end]',
        '',
      ].join('\n'),
    );
    expect(stored).toBe('cvmfs_tag=cernvm-system-1.1.0\n');
    expect(said.trim().split('\n')).toEqual([
      'ucernvm: context: line 2: cvmfs_tag: not a tag name (ignored)',
      'ucernvm: context: line 3: cvmfs_branch: not a repository name (ignored)',
      'ucernvm: context: line 4: cvmfs_http_proxy: not a proxy list (ignored)',
      'ucernvm: context: line 5: cvmfs_wait_on_squid: not a number of seconds (ignored)',
      'ucernvm: context: line 6: debug: not yes or no (ignored)',
      'ucernvm: context: line 7: colour: unknown key (ignored)',
      "ucernvm: context: line 8: no '=' (ignored)",
    ]);
    expect(existsSync('/tmp/pwned')).toBe(false);
    expect(existsSync(path.join(dir, 'pwned'))).toBe(false);
  });

  it('stores nothing from empty user data, broken gzip, or data without the section', async () => {
    expect((await parse('')).stored).toBe('');
    expect((await parse('#cloud-config\nhostname: x\n')).stored).toBe('');
    const broken = await parse(Buffer.concat([gzipSync('x').subarray(0, 4), Buffer.alloc(10)]));
    expect(broken.stored).toBe('');
    expect(broken.said).toContain('does not decompress');
  });

  it('reads a stored value back without evaluating it', async () => {
    const { dir } = await parse(`${block.join('\n')}\n`);
    const value = execFileSync(
      'busybox',
      ['sh', '-c', `. "${LIBRARY}"; ucvm_context_get "$1/context" cvmfs_http_proxy`, 'sh', dir],
      { encoding: 'utf8' },
    );
    expect(value).toBe('http://squid.example.org:3128;DIRECT');
  });
});
