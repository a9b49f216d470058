import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import {
  compareDebianVersions,
  formatDebianVersion,
  isValidDebianVersion,
  parseDebianVersion,
  satisfiesRelation,
} from '../../../src/packages/debian/version.js';

describe('parseDebianVersion', () => {
  it.each([
    ['1.0', 0, '1.0', ''],
    ['1.0-1', 0, '1.0', '1'],
    ['2:1.0-1', 2, '1.0', '1'],
    ['0:1.0', 0, '1.0', ''],
    ['01:1.0', 1, '1.0', ''],
    ['1.0-2-3', 0, '1.0-2', '3'],
    ['1:2:3-4', 1, '2:3', '4'],
    ['5.2.15-2+b2', 0, '5.2.15', '2+b2'],
    ['1.0~rc1+dfsg-0ubuntu1~22.04', 0, '1.0~rc1+dfsg', '0ubuntu1~22.04'],
    ['  1.0  ', 0, '1.0', ''],
  ])('%j', (text, epoch, upstream, revision) => {
    expect(parseDebianVersion(text)).toEqual({ epoch, upstream, revision });
  });

  it.each([
    ['', 'empty'],
    ['1.0 1', 'whitespace'],
    [':1.0', 'epoch is empty'],
    ['a:1.0', 'epoch is not a number'],
    ['-1:1.0', 'epoch is not a number'],
    ['99999999999:1', 'epoch is too big'],
    ['1.0-', 'revision is empty'],
    ['1.0-a_b', 'revision holds'],
    ['1:1.0-1:2', 'revision holds'],
    ['-1', 'upstream version is empty'],
    ['a1.0', 'does not start with a digit'],
    ['1:', 'upstream version is empty'],
    ['1.0_1', 'upstream version holds'],
    ['1.0é', 'upstream version holds'],
  ])('rejects %j', (text, reason) => {
    expect(isValidDebianVersion(text)).toBe(false);
    try {
      parseDebianVersion(text);
      expect.unreachable();
    } catch (error) {
      expect(isUcvmError(error, 'PACKAGE_VERIFY')).toBe(true);
      expect((error as Error).message).toContain(reason);
      expect((error as Error).message).toContain(`'${text}'`);
    }
  });

  it('formats without a zero epoch', () => {
    expect(formatDebianVersion(parseDebianVersion('0:1.0-1'))).toBe('1.0-1');
    expect(formatDebianVersion(parseDebianVersion('3:1.0'))).toBe('3:1.0');
  });
});

describe('compareDebianVersions', () => {
  it.each([
    ['1.0', '1.0', 0],
    ['1.0', '1.0-0', 0],
    ['0:1.0', '1.0', 0],
    ['1.0', '1.00', 0],
    ['1.01', '1.1', 0],
    ['1.0~rc1', '1.0', -1],
    ['1.0~~', '1.0~', -1],
    ['1.0~~a', '1.0~~', 1],
    ['1.0~', '1.0', -1],
    ['1.0', '1.0+b1', -1],
    ['1.0', '1.0.1', -1],
    ['1.0a', '1.0', 1],
    ['1.0a', '1.0+', -1],
    ['1.0a', '1.0.', -1],
    ['1.0Z', '1.0a', -1],
    ['1.9', '1.10', -1],
    ['1:0.1', '2.0', 1],
    ['1.0-1', '1.0-2', -1],
    ['1.0-10', '1.0-9', 1],
    ['1.0-1~bpo1', '1.0-1', -1],
    ['5.2.15-2+b2', '5.2.15-2', 1],
    ['6.4-4', '6', 1],
    ['2.36-9+deb12u4', '2.36-9+deb12u10', -1],
    ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12', -1],
  ])('%s vs %s', (a, b, expected) => {
    expect(compareDebianVersions(a, b)).toBe(expected);
    expect(compareDebianVersions(b, a)).toBe(-expected || 0);
  });

  it('throws on an invalid version', () => {
    expect(() => compareDebianVersions('1.0', 'x')).toThrow(/does not start with a digit/);
  });
});

describe('satisfiesRelation', () => {
  it.each([
    ['1.0', '<<', '1.1', true],
    ['1.1', '<<', '1.1', false],
    ['1.1', '<=', '1.1', true],
    ['1.2', '<=', '1.1', false],
    ['1.1', '=', '1.1-0', true],
    ['1.1', '=', '1.1-1', false],
    ['1.1', '>=', '1.1', true],
    ['1.0', '>=', '1.1', false],
    ['1.1', '>>', '1.1', false],
    ['1.2', '>>', '1.1', true],
    ['1.1', '<', '1.1', true],
    ['1.2', '<', '1.1', false],
    ['1.1', '>', '1.1', true],
    ['1.0', '>', '1.1', false],
  ] as const)('%s %s %s is %s', (version, op, target, expected) => {
    expect(satisfiesRelation(version, op, target)).toBe(expected);
  });
});

/** mulberry32: a small seeded PRNG, so the generated cases are the same on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(seed: number) {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const digits = () => pick(['0', '1', '2', '9', '10', '01', '001', '00', '100', '3']);
  const fragment = (extra: readonly string[]) => {
    let text = '';
    const length = 1 + Math.floor(random() * 5);
    for (let i = 0; i < length; i++) {
      text += pick([digits(), digits(), '.', '~', '+', 'a', 'b', 'Z', 'z', '~~', ...extra]);
    }
    return text;
  };
  const version = (): string => {
    const epoch = random() < 0.25 ? `${pick(['0', '1', '2', '00', '01'])}:` : '';
    const revision = random() < 0.6 ? `-${fragment([])}` : '';
    const upstreamExtra = [...(revision !== '' ? ['-'] : []), ...(epoch !== '' ? [':'] : [])];
    return `${epoch}${digits()}${random() < 0.8 ? fragment(upstreamExtra) : ''}${revision}`;
  };
  /** Small edits of `a`, so that many pairs are equal or nearly equal. */
  const variant = (a: string): string => {
    const roll = random();
    if (roll < 0.3) return version();
    if (roll < 0.45) return a;
    if (roll < 0.6) return a.replace(/(^|[^0-9])([0-9])/, '$10$2'); // add a leading zero
    if (roll < 0.7) return a.includes(':') ? a : `0:${a}`;
    const at = Math.floor(random() * (a.length + 1));
    const insert = pick(['~', '+', '.', 'a', '1', '0', '~~']);
    const b = `${a.slice(0, at)}${insert}${a.slice(at)}`;
    return isValidDebianVersion(b) ? b : a;
  };
  return { version, variant, random, pick };
}

const dpkgAvailable = (() => {
  try {
    execFileSync('dpkg', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** One `sh` per chunk reads "a b" lines and prints <, = or > as dpkg decides. */
const compareScript = `
while read -r a b; do
  if dpkg --compare-versions "$a" lt "$b"; then echo '<'
  elif dpkg --compare-versions "$a" gt "$b"; then echo '>'
  elif dpkg --compare-versions "$a" eq "$b"; then echo '='
  else echo '?'; fi
done`;

async function dpkgCompare(pairs: readonly (readonly [string, string])[]): Promise<string[]> {
  const chunks = 4;
  const size = Math.ceil(pairs.length / chunks);
  const results = await Promise.all(
    Array.from({ length: chunks }, async (_, index) => {
      const chunk = pairs.slice(index * size, (index + 1) * size);
      const input = chunk.map(([a, b]) => `${a} ${b}\n`).join('');
      const { stdout, stderr } = await execa('sh', ['-c', compareScript], { input });
      expect(stderr).toBe(''); // dpkg warns about versions it finds invalid
      return stdout.split('\n').filter((line) => line !== '');
    }),
  );
  return results.flat();
}

describe.skipIf(!dpkgAvailable)('compareDebianVersions against dpkg --compare-versions', () => {
  it('agrees on 5000 generated pairs', async () => {
    const gen = generator(0x5eed);
    const pairs: [string, string][] = [];
    while (pairs.length < 5000) {
      const a = gen.version();
      pairs.push([a, gen.variant(a)]);
    }
    const expected = await dpkgCompare(pairs);
    expect(expected).toHaveLength(pairs.length);
    const symbol = { '-1': '<', '0': '=', '1': '>' } as const;
    const mismatches = pairs
      .map(([a, b], index) => ({
        a,
        b,
        ours: symbol[compareDebianVersions(a, b)],
        dpkg: expected[index],
      }))
      .filter((row) => row.ours !== row.dpkg);
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The generator must produce every outcome, or the comparison proves little.
    for (const outcome of ['<', '=', '>']) {
      expect(expected.filter((result) => result === outcome).length).toBeGreaterThan(500);
    }
  });

  it('agrees on which generated strings are valid versions', async () => {
    const gen = generator(0xdeb);
    const alphabet = ['1', '0', 'a', 'Z', '.', '~', '+', '-', ':', '_', '#', ',', '9'];
    const strings: string[] = [];
    while (strings.length < 500) {
      const length = 1 + Math.floor(gen.random() * 8);
      strings.push(Array.from({ length }, () => gen.pick(alphabet)).join(''));
    }
    const script = `while read -r v; do
      if out=$(dpkg --compare-versions "$v" eq "$v" 2>&1) && [ -z "$out" ]; then echo ok; else echo bad; fi
    done`;
    const input = strings.map((text) => `${text}\n`).join('');
    const { stdout } = await execa('sh', ['-c', script], { input });
    const dpkgValid = stdout.split('\n').filter((line) => line !== '');
    expect(dpkgValid).toHaveLength(strings.length);
    const mismatches = strings
      .map((text, index) => ({
        text,
        ours: isValidDebianVersion(text) ? 'ok' : 'bad',
        dpkg: dpkgValid[index],
      }))
      .filter((row) => row.ours !== row.dpkg);
    expect(mismatches).toEqual([]);
    expect(dpkgValid.filter((result) => result === 'ok').length).toBeGreaterThan(20);
  });
});
