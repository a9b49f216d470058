import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import { assertClosure, checkClosure } from '../../../src/packages/debian/closure.js';
import type { ClosureProblem } from '../../../src/packages/debian/closure.js';
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
    fields: new Map([
      ['Package', name],
      ['Version', version],
      ['Architecture', architecture],
      ...Object.entries(fields),
    ]),
    filename: `pool/main/${name}_${version}_${architecture}.deb`,
    size: 1,
    sha256: '0'.repeat(64),
    origin: 'test',
  };
}

function check(
  pinned: Record<string, string>,
  records: PackageRecord[],
  architecture = 'amd64',
): ClosureProblem[] {
  return checkClosure({ pinned, records, architecture }).problems;
}

const base = [
  record('libc6', '2.36-9', { 'Multi-Arch': 'same' }),
  record('libtinfo6', '6.4-4', { Depends: 'libc6 (>= 2.34)' }),
  record('bash', '5.2.15-2+b2', { 'Pre-Depends': 'libc6 (>= 2.36), libtinfo6 (>= 6)' }),
];

describe('checkClosure', () => {
  it('accepts a closed set and returns the member records', () => {
    const report = checkClosure({
      pinned: new Map([
        ['libc6', '2.36-9'],
        ['libtinfo6', '6.4-4'],
        ['bash', '5.2.15-2+b2'],
      ]),
      records: base,
      architecture: 'amd64',
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect([...report.members.keys()]).toEqual(['bash', 'libc6', 'libtinfo6']);
    expect(() => assertClosure(report)).not.toThrow();
  });

  it('reports an unsatisfied versioned dependency naming the pinned version', () => {
    const records = [...base, record('libtinfo6', '5.9-1', { Depends: 'libc6' })];
    const problems = check({ libc6: '2.36-9', libtinfo6: '5.9-1', bash: '5.2.15-2+b2' }, records);
    expect(problems).toEqual([
      {
        kind: 'unsatisfied-depends',
        package: 'bash',
        version: '5.2.15-2+b2',
        detail:
          'Pre-Depends libtinfo6 (>= 6) not satisfied inside the pinned set (pinned: libtinfo6 5.9-1)',
        message:
          'bash 5.2.15-2+b2: Pre-Depends libtinfo6 (>= 6) not satisfied inside the pinned set (pinned: libtinfo6 5.9-1)',
      },
    ]);
  });

  it('reports a dependency on an unpinned package', () => {
    const problems = check({ libtinfo6: '6.4-4' }, base);
    expect(problems.map((p) => p.message)).toEqual([
      'libtinfo6 6.4-4: Depends libc6 (>= 2.34) not satisfied inside the pinned set (libc6 is not pinned and nothing pinned provides it)',
    ]);
  });

  it('accepts any satisfied alternative and reports when none is', () => {
    const records = [
      record('app', '1', { Depends: 'default-mta | mail-transport-agent (>= 2), libc6' }),
      ...base,
      record('mta', '1', { Provides: 'mail-transport-agent (= 3)' }),
      record('old-mta', '1', { Provides: 'mail-transport-agent (= 1)' }),
      record('default-mta', '1', {}, 'all'),
    ];
    expect(check({ app: '1', libc6: '2.36-9', mta: '1' }, records)).toEqual([]);
    expect(check({ app: '1', libc6: '2.36-9', 'default-mta': '1' }, records)).toEqual([]);
    expect(check({ app: '1', libc6: '2.36-9' }, records).map((p) => p.detail)).toEqual([
      'Depends default-mta | mail-transport-agent (>= 2) not satisfied inside the pinned set ' +
        '(none of them is pinned or provided)',
    ]);
    expect(
      check({ app: '1', libc6: '2.36-9', 'old-mta': '1' }, records).map((p) => p.detail),
    ).toEqual([
      'Depends default-mta | mail-transport-agent (>= 2) not satisfied inside the pinned set ' +
        '(pinned: old-mta 1 provides mail-transport-agent (= 1))',
    ]);
  });

  it('satisfies virtual packages only as far as the provide is versioned', () => {
    const records = [
      record('app', '1', { Depends: 'awk' }),
      record('strict', '1', { Depends: 'awk (>= 1)' }),
      record('mawk', '1.3.4-2', { Provides: 'awk' }),
      record('gawk', '5.2.1-2', { Provides: 'awk (= 1:5.2.1)' }),
    ];
    expect(check({ app: '1', strict: '1', gawk: '5.2.1-2' }, records)).toEqual([]);
    expect(check({ app: '1', mawk: '1.3.4-2' }, records)).toEqual([]);
    expect(check({ strict: '1', mawk: '1.3.4-2' }, records).map((p) => p.message)).toEqual([
      'strict 1: Depends awk (>= 1) not satisfied inside the pinned set (pinned: mawk 1.3.4-2 provides awk)',
    ]);
  });

  it('satisfies :any only with Multi-Arch: allowed, also through Provides', () => {
    const records = [
      record('tool', '1', { Depends: 'python3:any (>= 3.11)' }),
      record('python3', '3.11.2-1', { 'Multi-Arch': 'allowed' }),
      record('python3', '3.11.2-2', {}),
      record('pypy-shim', '1', { Provides: 'python3 (= 3.12)', 'Multi-Arch': 'allowed' }),
      record('native-user', '1', { Depends: 'python3:native, python3:amd64' }),
      record('foreign-user', '1', { Depends: 'python3:i386' }),
    ];
    expect(check({ tool: '1', python3: '3.11.2-1' }, records)).toEqual([]);
    expect(check({ tool: '1', 'pypy-shim': '1' }, records)).toEqual([]);
    expect(check({ tool: '1', python3: '3.11.2-2' }, records).map((p) => p.detail)).toEqual([
      'Depends python3:any (>= 3.11) not satisfied inside the pinned set (pinned: python3 3.11.2-2)',
    ]);
    expect(check({ 'native-user': '1', python3: '3.11.2-2' }, records)).toEqual([]);
    expect(check({ 'foreign-user': '1', python3: '3.11.2-2' }, records).map((p) => p.kind)).toEqual(
      ['unsatisfied-depends'],
    );
  });

  it('applies architecture restrictions of the target architecture', () => {
    const records = [
      record('app', '1', { Depends: 'libx [i386], liby [!amd64] | libc6' }, 'all'),
      ...base,
    ];
    expect(check({ app: '1', libc6: '2.36-9' }, records)).toEqual([]);
    expect(
      check(
        { app: '1', libc6: '2.36-9' },
        records.map((r) => ({ ...r, architecture: r.architecture === 'all' ? 'all' : 'i386' })),
        'i386',
      ).map((p) => p.detail),
    ).toEqual([
      'Depends libx not satisfied inside the pinned set (libx is not pinned and nothing pinned provides it)',
    ]);
  });

  it('reports conflicts, including on virtual packages, but not with itself', () => {
    const records = [
      record('exim4', '4.96-15', {
        Provides: 'mail-transport-agent',
        Conflicts: 'mail-transport-agent',
      }),
      record('postfix', '3.7.10-0', {
        Provides: 'mail-transport-agent',
        Conflicts: 'mail-transport-agent, sendmail (<< 9)',
      }),
      record('sendmail', '8.17.1', {}),
    ];
    expect(check({ exim4: '4.96-15' }, records)).toEqual([]);
    expect(check({ exim4: '4.96-15', postfix: '3.7.10-0' }, records).map((p) => p.message)).toEqual(
      [
        'exim4 4.96-15: Conflicts mail-transport-agent violated by postfix 3.7.10-0 provides mail-transport-agent',
        'postfix 3.7.10-0: Conflicts mail-transport-agent violated by exim4 4.96-15 provides mail-transport-agent',
      ],
    );
    expect(
      check({ postfix: '3.7.10-0', sendmail: '8.17.1' }, records).map((p) => p.message),
    ).toEqual(['postfix 3.7.10-0: Conflicts sendmail (<< 9) violated by sendmail 8.17.1']);
  });

  it('reports Breaks only when the version matches', () => {
    const records = [
      record('libnew', '2', { Breaks: 'app (<< 2), gone' }),
      record('app', '1'),
      record('app', '2'),
    ];
    expect(check({ libnew: '2', app: '2' }, records)).toEqual([]);
    expect(check({ libnew: '2', app: '1' }, records)).toEqual([
      {
        kind: 'breaks',
        package: 'libnew',
        version: '2',
        detail: 'Breaks app (<< 2) violated by app 1',
        message: 'libnew 2: Breaks app (<< 2) violated by app 1',
      },
    ]);
  });

  it('reports missing packages and versions', () => {
    const records = [
      ...base,
      record('libc6', '2.36-9', {}, 'i386'),
      record('only-i386', '1', {}, 'i386'),
    ];
    const problems = check(
      { libc6: '2.36-8', 'only-i386': '1', nothing: '1', libtinfo6: '0:6.4-4' },
      records,
    );
    expect(problems.map((p) => [p.kind, p.message])).toEqual([
      ['missing-package', "nothing 1: no package 'nothing' for amd64 in the index"],
      [
        'missing-package',
        "only-i386 1: no package 'only-i386' for amd64 in the index (only for i386)",
      ],
      ['missing-version', 'libc6 2.36-8: version 2.36-8 is not in the index (available: 2.36-9)'],
      [
        'unsatisfied-depends',
        'libtinfo6 6.4-4: Depends libc6 (>= 2.34) not satisfied inside the pinned set (pinned: libc6 2.36-8, which is not in the index)',
      ],
    ]);
  });

  it('names the provider when a virtual package is pinned', () => {
    const records = [record('mawk', '1.3.4-2', { Provides: 'awk' })];
    expect(check({ awk: '1', mawk: '1.3.4-2' }, records).map((p) => p.detail)).toEqual([
      "no package 'awk' for amd64 in the index (a virtual package provided by mawk 1.3.4-2)",
    ]);
  });

  it('reports essential packages of the index that are not pinned', () => {
    const records = [
      ...base.map((r) =>
        r.name === 'bash'
          ? record('bash', r.version, { Essential: 'yes', 'Pre-Depends': 'libc6' })
          : r,
      ),
      record('dash', '0.5.12-2', { Essential: 'yes', Priority: 'required' }),
      record('was-essential', '1', { Essential: 'yes' }),
      record('was-essential', '2', {}),
      record('coreutils', '9.1-1', { Essential: 'yes' }, 'i386'),
      record('mawk', '1.3.4-2', { Priority: 'required' }),
    ];
    const report = checkClosure({
      pinned: { bash: '5.2.15-2+b2', libc6: '2.36-9' },
      records,
      architecture: 'amd64',
    });
    expect(report.problems.map((p) => [p.kind, p.message])).toEqual([
      ['missing-essential', 'dash 0.5.12-2: Essential: yes in the index but not in the pinned set'],
    ]);
    try {
      assertClosure(report);
      expect.unreachable();
    } catch (error) {
      expect(isUcvmError(error, 'PACKAGE_CLOSURE')).toBe(true);
      expect((error as Error).message).toBe('the pinned package set is not closed (1 problem)');
    }
  });

  it('reports a relation field that cannot be parsed', () => {
    const records = [record('bad', '1', { Depends: 'a (>= )' })];
    expect(check({ bad: '1' }, records).map((p) => p.detail)).toEqual([
      "Depends cannot be parsed: invalid Depends relation 'a (>= )': not of the form name[:arch] [(op version)]",
    ]);
  });

  it('checks a large index (60,000 records) and finds the one open relation', () => {
    const records: PackageRecord[] = [];
    for (let i = 0; i < 60_000; i++)
      records.push(record(`pkg${i}`, `1.${i % 7}-1`, { Depends: `pkg${i + 1} (>= 1.0)` }));
    const pinned = Object.fromEntries(records.slice(0, 300).map((r) => [r.name, r.version]));
    const problems = check(pinned, records);
    expect(problems.map((p) => p.message)).toEqual([
      'pkg299 1.5-1: Depends pkg300 (>= 1.0) not satisfied inside the pinned set (pkg300 is not pinned and nothing pinned provides it)',
    ]);
  });
});
