import { describe, expect, it } from 'vitest';
import type { Channel, Manifest } from '../../src/manifest/schema.js';
import { versionIdentity, identityDifferences } from '../../src/reconcile/identity.js';
import {
  computePlan,
  repositoryDrift,
  type DesiredVersion,
  type RepositoryState,
  type TagState,
} from '../../src/reconcile/plan.js';
import { decodeProvenance, encodeProvenance } from '../../src/reconcile/provenance.js';
import { forwardPortReminders } from '../../src/reconcile/load.js';

function manifest(
  channel: Channel,
  version: string,
  packages: Record<string, string> = { bash: '5.2' },
): Manifest {
  return {
    channel,
    system: { name: 'cernvm-system', version },
    base: { distribution: 'debian', suite: 'bookworm', architecture: 'amd64' },
    packages,
    files: [{ path: '/etc/motd', content: 'welcome\n', mode: '0644' }],
  };
}

const bytes = (file: Manifest['files'][number]): Buffer => Buffer.from(file.content ?? '');

function desired(
  channel: Channel,
  version: string,
  options: { hotfix?: boolean; packages?: Record<string, string> } = {},
): DesiredVersion {
  return {
    channel,
    system: 'cernvm-system',
    version,
    identity: versionIdentity(manifest(channel, version, options.packages), bytes),
    hotfix: options.hotfix === true,
  };
}

function tag(version: string, root: string, packages?: Record<string, string>): TagState {
  return {
    name: `cernvm-system-${version}`,
    rootHash: root.padEnd(40, '0'),
    timestamp: 0,
    identity: versionIdentity(manifest('development', version, packages), bytes),
  };
}

function repo(fqrn: string, tags: TagState[], head?: string): RepositoryState {
  const all = [...tags];
  if (head !== undefined)
    all.push({ name: 'HEAD', rootHash: head.padEnd(40, '0'), timestamp: 0, identity: undefined });
  return { fqrn, rollingTag: 'HEAD', tags: all };
}

const promotion: Channel[] = ['development', 'testing', 'production'];

function plan(want: DesiredVersion[], have: Record<Channel, RepositoryState>) {
  return computePlan({
    promotion,
    desired: new Map(want.map((d) => [d.channel, d])),
    actual: new Map(Object.entries(have) as Array<[Channel, RepositoryState]>),
  });
}

describe('identity', () => {
  it('ignores the channel and the install list, and names the fields that differ', () => {
    const a = versionIdentity(manifest('testing', '1.0.0'), bytes);
    const b = versionIdentity({ ...manifest('production', '1.0.0'), install: ['bash'] }, bytes);
    expect(a).toEqual(b);
    const c = versionIdentity(manifest('production', '1.0.0', { bash: '5.3' }), bytes);
    expect(identityDifferences(a, c)).toEqual(['packages']);
    const d = versionIdentity(manifest('production', '1.0.0'), () => Buffer.from('other'));
    expect(identityDifferences(a, d)).toEqual(['files']);
    expect(a.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('round-trips provenance through a tag description and refuses anything else', () => {
    const identity = versionIdentity(manifest('testing', '1.0.0'), bytes);
    const text = encodeProvenance({
      ucvm: 1,
      version: '1.0.0',
      identity: identity.digest,
      fields: identity.fields,
      commit: 'abc1234',
      at: '2026-12-02T00:00:00Z',
    });
    expect(decodeProvenance(text)?.identity).toBe(identity.digest);
    expect(decodeProvenance('current HEAD')).toBeUndefined();
    expect(decodeProvenance('{"ucvm":2}')).toBeUndefined();
    expect(decodeProvenance(`{${' '.repeat(5000)}}`)).toBeUndefined();
  });
});

describe('computePlan', () => {
  it('publishes a new version in the first channel, promotes it, and does nothing when all match', () => {
    const have = {
      development: repo('dev.example.org', [tag('1.0.0', 'a'), tag('1.1.0', 'b')], 'b'),
      testing: repo('test.example.org', [tag('1.0.0', 'a')], 'a'),
      production: repo('prod.example.org', [tag('1.0.0', 'a')], 'a'),
    };
    const result = plan(
      [
        desired('development', '1.2.0'),
        desired('testing', '1.1.0'),
        desired('production', '1.0.0'),
      ],
      have,
    );
    expect(result.map((p) => p.action.kind)).toEqual(['publish', 'promote', 'none']);
    expect(result[1]!.action).toMatchObject({
      from: 'development',
      fromRepository: 'dev.example.org',
    });
    expect(result.map((p) => p.currentVersion)).toEqual(['1.1.0', '1.0.0', '1.0.0']);
    expect(result.flatMap((p) => p.refusals)).toEqual([]);
  });

  it('rolls back to a version the repository holds, and refuses one it does not', () => {
    const have = {
      development: repo('dev.example.org', [tag('1.0.0', 'a'), tag('1.1.0', 'b')], 'b'),
      testing: repo('test.example.org', [tag('1.1.0', 'b')], 'b'),
      production: repo('prod.example.org', [], undefined),
    };
    const result = plan([desired('development', '1.0.0'), desired('testing', '1.0.0')], have);
    expect(result[0]!.action).toMatchObject({ kind: 'rollback', from: '1.1.0' });
    expect(result[1]!.refusals.map((r) => r.code)).toEqual(['VERSION_UNKNOWN']);
  });

  it('refuses a published version whose content changed, naming the fields', () => {
    const have = {
      development: repo('dev.example.org', [tag('1.0.0', 'a')], 'a'),
      testing: repo('test.example.org', [], undefined),
      production: repo('prod.example.org', [], undefined),
    };
    const result = plan([desired('development', '1.0.0', { packages: { bash: '9.9' } })], have);
    expect(result[0]!.refusals).toMatchObject([{ code: 'VERSION_CONFLICT', fields: ['packages'] }]);
  });

  it('lets only a patch-level hotfix skip channels into production', () => {
    const have = {
      development: repo('dev.example.org', [tag('1.1.0', 'b')], 'b'),
      testing: repo('test.example.org', [tag('1.1.0', 'b')], 'b'),
      production: repo('prod.example.org', [tag('1.0.0', 'a')], 'a'),
    };
    const codes = (want: DesiredVersion) =>
      plan([want], have).flatMap((p) => p.refusals.map((r) => r.code));
    expect(codes(desired('production', '1.0.1'))).toEqual(['HOTFIX_REQUIRED']);
    expect(codes(desired('production', '1.2.0', { hotfix: true }))).toEqual(['HOTFIX_INVALID']);
    expect(codes(desired('testing', '1.1.1', { hotfix: true }))).toEqual(['HOTFIX_REQUIRED']);
    const ok = plan([desired('production', '1.0.1', { hotfix: true })], have);
    expect(ok[0]!.action.kind).toBe('publish');
    expect(ok[0]!.refusals).toEqual([]);
  });

  it('seeds a new pipeline: each empty repository publishes its first version', () => {
    const empty = (fqrn: string) => repo(fqrn, []);
    const result = plan(
      [
        desired('development', '1.2.0'),
        desired('testing', '1.1.0'),
        desired('production', '1.0.0'),
      ],
      {
        development: empty('dev.example.org'),
        testing: empty('test.example.org'),
        production: empty('prod.example.org'),
      },
    );
    expect(result.map((p) => p.action.kind)).toEqual(['publish', 'publish', 'publish']);
    expect(result.flatMap((p) => p.refusals)).toEqual([]);
  });

  it('finishes a promotion whose tag was written but whose rolling tag was not moved', () => {
    const have = {
      development: repo('dev.example.org', [tag('1.1.0', 'b')], 'b'),
      testing: repo('test.example.org', [tag('1.0.0', 'a'), tag('1.1.0', 'b')], 'a'),
      production: repo('prod.example.org', [], undefined),
    };
    expect(plan([desired('testing', '1.1.0')], have)[0]!.action).toMatchObject({
      kind: 'move',
      from: '1.0.0',
    });
  });

  it('reports a rolling tag moved by hand as drift', () => {
    const versions = [tag('1.0.0', 'a')];
    expect(repositoryDrift('cernvm-system', repo('dev.example.org', versions, 'a'))).toEqual([]);
    expect(repositoryDrift('cernvm-system', repo('dev.example.org', versions, 'f'))[0]).toMatch(
      /rolling tag HEAD points at f0+, which no cernvm-system-<version> tag names/,
    );
    expect(repositoryDrift('cernvm-system', repo('dev.example.org', versions))).toEqual([
      'dev.example.org: there is no rolling tag HEAD',
    ]);
  });

  it('plans a version through every channel in one run, gates permitting', () => {
    const have = {
      development: repo('dev.example.org', [tag('1.0.0', 'a')], 'a'),
      testing: repo('test.example.org', [tag('1.0.0', 'a')], 'a'),
      production: repo('prod.example.org', [tag('1.0.0', 'a')], 'a'),
    };
    const want = [
      desired('development', '1.1.0'),
      desired('testing', '1.1.0'),
      desired('production', '1.1.0'),
    ];
    const result = plan(want, have);
    expect(result.map((p) => p.action.kind)).toEqual(['publish', 'promote', 'promote']);
    expect(result[1]!.action).toMatchObject({ rootHash: undefined });
    // With a gate, what is born in this run has soaked nowhere and passed no check.
    const gated = computePlan({
      promotion,
      desired: new Map(want.map((d) => [d.channel, d])),
      actual: new Map(Object.entries(have) as Array<[Channel, RepositoryState]>),
      gates: { production: { soak: '1d', checks: ['verify'] } },
      now: new Date('2026-12-01T00:00:00Z'),
    });
    expect(gated[2]!.refusals).toMatchObject([
      { code: 'GATE_NOT_MET', until: '2026-12-02T00:00:00.000Z', missingChecks: ['verify'] },
    ]);
  });

  it('refuses a promotion before its soak time and checks, and lets it through after', () => {
    const source: TagState = {
      ...tag('1.1.0', 'b'),
      arrivedAt: Date.parse('2026-12-01T00:00:00Z') / 1000,
    };
    const have = {
      development: repo('dev.example.org', [tag('1.1.0', 'b')], 'b'),
      testing: {
        ...repo('test.example.org', [source], 'b'),
        checks: {
          'cernvm-system-1.1.0': {
            verify: { passed: true, at: '2026-12-01T01:00:00Z', root: 'b'.padEnd(40, '0') },
            boot: { passed: false, at: '2026-12-01T02:00:00Z', root: 'b'.padEnd(40, '0') },
          },
        },
      },
      production: repo('prod.example.org', [tag('1.0.0', 'a')], 'a'),
    };
    const at = (now: string, checks: string[]) =>
      computePlan({
        promotion,
        desired: new Map([['production', desired('production', '1.1.0')]]),
        actual: new Map(Object.entries(have) as Array<[Channel, RepositoryState]>),
        gates: { production: { soak: '36h', checks } },
        now: new Date(now),
      })[0]!;
    const early = at('2026-12-02T00:00:00Z', ['verify', 'boot']);
    expect(early.action.kind).toBe('promote');
    expect(early.refusals).toMatchObject([
      { code: 'GATE_NOT_MET', until: '2026-12-02T12:00:00.000Z', missingChecks: ['boot'] },
    ]);
    expect(early.refusals[0]!.message).toContain('not before 2026-12-02T12:00:00.000Z');
    expect(at('2026-12-02T13:00:00Z', ['verify']).refusals).toEqual([]);
    // A result recorded for another snapshot does not count.
    const stale = {
      ...have,
      testing: { ...have.testing, tags: [{ ...source, rootHash: 'c'.padEnd(40, '0') }] },
    };
    const moved = computePlan({
      promotion,
      desired: new Map([['production', desired('production', '1.1.0')]]),
      actual: new Map(Object.entries(stale) as Array<[Channel, RepositoryState]>),
      gates: { production: { checks: ['verify'] } },
    })[0]!;
    expect(moved.refusals).toMatchObject([{ code: 'GATE_NOT_MET', missingChecks: ['verify'] }]);
  });

  it('follows a rollback marker to a version the repository holds, and refuses one it lacks', () => {
    const have = {
      development: repo('dev.example.org', [tag('1.0.0', 'a'), tag('1.1.0', 'b')], 'b'),
      testing: repo('test.example.org', [], undefined),
      production: repo('prod.example.org', [], undefined),
    };
    const marked = { ...desired('development', '1.1.0'), rollbackTo: '1.0.0' };
    expect(plan([marked], have)[0]).toMatchObject({
      tag: 'cernvm-system-1.0.0',
      action: { kind: 'rollback', from: '1.1.0' },
    });
    const absent = { ...desired('development', '1.1.0'), rollbackTo: '0.9.0' };
    expect(plan([absent], have)[0]!.refusals.map((r) => r.code)).toEqual(['VERSION_UNKNOWN']);
  });
});

describe('forwardPortReminders', () => {
  it('names the channels that pin an older version of what a hotfix upgraded', () => {
    const hotfixed: TagState = {
      ...tag('1.0.1', 'h'),
      provenance: {
        ucvm: 1,
        version: '1.0.1',
        identity: `sha256:${'0'.repeat(64)}`,
        fields: {
          system: '0'.repeat(64),
          base: '0'.repeat(64),
          packages: '0'.repeat(64),
          files: '0'.repeat(64),
        },
        at: '2026-12-01T00:00:00Z',
        hotfix: { reason: 'DSA', upgrades: { openssl: '3.0.15-1' } },
      },
    };
    const actual = new Map<Channel, RepositoryState>([
      ['production', repo('prod.example.org', [hotfixed], 'h')],
    ]);
    const manifests = new Map<Channel, Manifest>([
      ['development', manifest('development', '1.1.0', { openssl: '3.0.15-1' })],
      ['testing', manifest('testing', '1.1.0', { openssl: '3.0.14-1' })],
    ]);
    const reminders = forwardPortReminders(promotion, manifests, actual);
    expect(reminders).toHaveLength(1);
    expect(reminders[0]).toMatch(
      /^testing does not carry hotfix cernvm-system-1\.0\.1 .*openssl 3\.0\.14-1 < 3\.0\.15-1/,
    );
  });
});
