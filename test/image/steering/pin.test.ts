import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpdir } from '../../helpers/tmp.js';

const LIB = path.resolve(import.meta.dirname, '../../../src/image/steering/lib');
const HASH = 'd90b8d2723754536c2889a2a4c1808bbbdcc8b2d';

function sh(state: string, script: string, ...args: string[]): { out: string; status: number } {
  const full = `. "${LIB}/userdata.sh"; . "${LIB}/pin.sh"; ${script}`;
  try {
    const out = execFileSync('busybox', ['sh', '-c', full, state, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return { out, status: 0 };
  } catch (error) {
    return { out: String((error as { stdout?: string }).stdout ?? ''), status: 1 };
  }
}

const select = (state: string) => sh(state, 'ucvm_select_snapshot "$0" HEAD').out.trim();

describe('snapshot selection and pinning (busybox sh)', () => {
  it('boots the rolling tag afresh, then the pinned root hash, whatever the tag does', async () => {
    const state = await tmpdir();
    expect(select(state)).toBe('fresh HEAD');
    expect(sh(state, 'ucvm_record_pin "$0" "$1" HEAD', HASH).status).toBe(0);
    expect(readFileSync(path.join(state, 'snapshot'), 'utf8')).toBe(`${HASH}\nHEAD\n`);
    expect(select(state)).toBe(`pinned ${HASH} HEAD`);
  });

  it('switches to a forced tag, also back in time, and clears the force once pinned', async () => {
    const state = await tmpdir();
    sh(state, 'ucvm_record_pin "$0" "$1" HEAD', HASH);
    writeFileSync(path.join(state, 'force-tag'), 'cernvm-system-1.0.0\r\n');
    expect(select(state)).toBe('fresh cernvm-system-1.0.0');
    const older = 'a'.repeat(40);
    sh(state, 'ucvm_record_pin "$0" "$1" cernvm-system-1.0.0', older);
    expect(existsSync(path.join(state, 'force-tag'))).toBe(false);
    expect(select(state)).toBe(`pinned ${older} cernvm-system-1.0.0`);
  });

  it('boots afresh from a damaged pin, ignores a forced tag that is no tag, refuses a bad hash', async () => {
    const state = await tmpdir();
    writeFileSync(path.join(state, 'snapshot'), 'not a hash\nHEAD\n');
    expect(select(state)).toBe('fresh HEAD');
    writeFileSync(path.join(state, 'force-tag'), '$(reboot)\n');
    expect(select(state)).toBe('fresh HEAD');
    expect(sh(state, 'ucvm_record_pin "$0" "$1" HEAD', '../../etc').status).toBe(1);
    expect(readFileSync(path.join(state, 'snapshot'), 'utf8')).toBe('not a hash\nHEAD\n');
  });

  it('applies a tag forced on the kernel command line once, though the boot entry keeps carrying it', async () => {
    const state = await tmpdir();
    sh(state, 'ucvm_record_pin "$0" "$1" HEAD', HASH);
    const boot = (forced: string): string => {
      sh(state, 'ucvm_request_force "$0" "$1"', forced);
      return select(state);
    };
    expect(boot('cernvm-system-1.0.0')).toBe('fresh cernvm-system-1.0.0');
    const older = 'b'.repeat(40);
    sh(state, 'ucvm_record_pin "$0" "$1" cernvm-system-1.0.0', older);
    expect(readFileSync(path.join(state, 'force-tag.applied'), 'utf8')).toBe(
      'cernvm-system-1.0.0\n',
    );
    // The same parameter on the next boots: pinned, not switched again.
    expect(boot('cernvm-system-1.0.0')).toBe(`pinned ${older} cernvm-system-1.0.0`);
    expect(boot('cernvm-system-1.0.0')).toBe(`pinned ${older} cernvm-system-1.0.0`);
    // Another tag switches again; no parameter leaves the pin alone.
    expect(boot('cernvm-system-1.1.0')).toBe('fresh cernvm-system-1.1.0');
    sh(state, 'ucvm_record_pin "$0" "$1" cernvm-system-1.1.0', HASH);
    expect(boot('')).toBe(`pinned ${HASH} cernvm-system-1.1.0`);
  });
});
