import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpdir } from '../../helpers/tmp.js';
import { LIB } from './busybox.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const SHA = 'c'.repeat(64);

/** Runs a snippet under busybox sh with the settings and root libraries loaded. */
function sh(script: string, ...args: string[]): string {
  const libs = ['userdata.sh', 'settings.sh', 'log.sh', 'root.sh']
    .map((lib) => `. "${LIB}/${lib}";`)
    .join(' ');
  return execFileSync('busybox', ['sh', '-c', `${libs} ${script}`, 'sh', ...args], {
    encoding: 'utf8',
    env: { PATH: '/bin:/usr/bin', UCVM_LOG: '/dev/null' },
  });
}

async function settings(lines: string[]): Promise<string> {
  const file = path.join(await tmpdir(), 'settings');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('the root sources (busybox sh)', () => {
  it('reads the first server URL and the first proxy of a CernVM-FS proxy list', async () => {
    const file = await settings([
      'cvmfs_branch=os.example.org',
      'cvmfs_server=s1.example.org,http://s2.example.org/cvmfs/@fqrn@',
      'cvmfs_http_proxy=squid1.example.org:3128|squid2.example.org:3128;DIRECT',
    ]);
    expect(sh('ucvm_first_server "$1"', file)).toBe('http://s1.example.org/cvmfs/os.example.org\n');
    expect(sh('ucvm_http_proxy "$1"', file)).toBe('http://squid1.example.org:3128\n');
    const direct = await settings(['cvmfs_http_proxy=DIRECT']);
    expect(sh('ucvm_http_proxy "$1"', direct)).toBe('');
  });

  it('finds a shelf entry by tag or by root hash, and skips damaged lines', async () => {
    const index = path.join(await tmpdir(), 'tags');
    writeFileSync(
      index,
      [
        `HEAD ${B} ${SHA} 100`,
        `broken ${A}; ${SHA} 1`,
        `cernvm-system-1.0 ${A} ${SHA} 42`,
        `bad ${A} ${SHA} 1x`,
        '',
      ].join('\n'),
    );
    expect(sh('ucvm_shelf_entry "$1" 1 HEAD', index)).toBe(`HEAD ${B} ${SHA} 100\n`);
    expect(sh('ucvm_shelf_entry "$1" 2 "$2"', index, A)).toBe(`cernvm-system-1.0 ${A} ${SHA} 42\n`);
    expect(sh('ucvm_shelf_entry "$1" 1 broken || echo none', index)).toBe('none\n');
    expect(sh('ucvm_shelf_entry "$1" 1 bad || echo none', index)).toBe('none\n');
  });
});
