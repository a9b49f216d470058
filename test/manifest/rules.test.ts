import { describe, expect, it } from 'vitest';
import {
  checkManifestAgainstChannel,
  checkManifestRules,
  validateManifestText,
} from '../../src/manifest/index.js';
import type { FieldIssue, ManifestContext } from '../../src/manifest/index.js';
import { manifest, manifestText } from './fixtures.js';

const published = { bash: '5.2.15-2', libc6: '2.36-9+deb12u3', openssl: '3.0.11-1~deb12u1' };
const previousManifest = manifest(manifestText({ version: '4.5.0', packages: published }));

function check(
  version: string,
  packages: Record<string, string>,
  extra: string,
  context: ManifestContext,
): string[] {
  const text = manifestText({ version, packages, extra });
  return checkManifestAgainstChannel(manifest(text), context).map(brief);
}

function brief(issue: FieldIssue): string {
  return `${issue.path.join('.')}: ${issue.message}`;
}

const hotfix = 'hotfix:\n  reason: DSA-5532-1 openssl\n';
const rollback = (to: string): string =>
  `rollback:\n  to: ${to}\n  reason: does not boot on old hypervisors\n`;

describe('version rules', () => {
  it.each([
    ['4.6.0', []],
    ['5.0.0', []],
    ['4.5.1', []],
    ['4.4.9', ['system.version: must be greater than the published 4.5.0, got 4.4.9']],
    ['4.5.0-rc.1', ['system.version: must be greater than the published 4.5.0, got 4.5.0-rc.1']],
  ])('a new version %s after 4.5.0', (version, expected) => {
    expect(
      check(version, { ...published, bash: '5.2.15-2+b2' }, '', { previousVersion: '4.5.0' }),
    ).toEqual(expected);
  });

  it('accepts the published version unchanged, and rejects it with other content', () => {
    expect(check('4.5.0', published, '', { previousManifest })).toEqual([]);
    expect(check('4.5.0', { ...published, bash: '5.2.15-2+b2' }, '', { previousManifest })).toEqual(
      [
        'system.version: 4.5.0 is already published with other content: bump system.version above 4.5.0',
      ],
    );
  });

  it('has nothing to compare with in a new channel', () => {
    expect(check('0.1.0', published, '', {})).toEqual([]);
  });
});

describe('hotfix rules', () => {
  const patched = { ...published, openssl: '3.0.11-1~deb12u2' };

  it('accepts a patch-level bump that only changes versions', () => {
    expect(check('4.5.1', patched, hotfix, { previousVersion: '4.5.0', previousManifest })).toEqual(
      [],
    );
  });

  it.each([
    [
      '4.6.0',
      'system.version: a hotfix bumps only the patch level of 4.5.0 (e.g. 4.5.1), got 4.6.0',
    ],
    [
      '5.0.0',
      'system.version: a hotfix bumps only the patch level of 4.5.0 (e.g. 4.5.1), got 5.0.0',
    ],
    [
      '4.5.1-rc.1',
      'system.version: a hotfix bumps only the patch level of 4.5.0 (e.g. 4.5.1), got 4.5.1-rc.1',
    ],
  ])('rejects %s as a hotfix of 4.5.0', (version, message) => {
    expect(check(version, patched, hotfix, { previousVersion: '4.5.0' })).toEqual([message]);
  });

  it('rejects a hotfix that adds or removes packages', () => {
    const packages: Record<string, string> = { ...patched, curl: '7.88.1-10+deb12u5' };
    delete packages.bash;
    expect(check('4.5.1', packages, hotfix, { previousManifest })).toEqual([
      'packages.curl: a hotfix cannot add packages; curl is new',
      'packages: a hotfix cannot remove packages; removed: bash',
    ]);
  });

  it('needs a published version to patch (when the channel is known to have none)', () => {
    expect(check('4.5.1', patched, hotfix, {})).toEqual([]);
    expect(check('4.5.1', patched, hotfix, { publishedVersions: [] })).toEqual([
      'hotfix: a hotfix patches a published version, but the channel has published none',
    ]);
  });

  it('names only pinned packages as the upgrades it made', () => {
    const text = manifestText({
      version: '4.5.1',
      packages: patched,
      extra: `${hotfix}  upgrades: [openssl, curl]\n`,
    });
    const { issues } = validateManifestText(text, 'manifests/testing.yaml');
    expect(issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'hotfix.upgrades.1: curl is not pinned under packages',
    ]);
  });

  it('requires a reason (schema)', () => {
    const text = manifestText({
      version: '4.5.1',
      packages: patched,
      extra: 'hotfix:\n  advisories: [DSA-5532-1]\n',
    });
    const { issues } = validateManifestText(text, 'manifests/testing.yaml');
    expect(issues).toMatchObject([
      { line: 13, column: 3, path: 'hotfix.reason', message: 'missing required field' },
    ]);
  });
});

describe('rollback rules', () => {
  it('keeps the version and goes back to a published one', () => {
    expect(
      check('4.5.0', published, rollback('4.4.0'), {
        previousVersion: '4.5.0',
        publishedVersions: ['4.4.0', '4.5.0'],
      }),
    ).toEqual([]);
  });

  it('rejects a version that was never published', () => {
    expect(
      check('4.5.0', published, rollback('4.3.0'), { publishedVersions: ['4.4.0', '4.5.0'] }),
    ).toEqual([
      'rollback.to: 4.3.0 was never published in this channel, so the rolling tag cannot point at it',
    ]);
  });

  it('rejects a new version together with a rollback', () => {
    expect(check('4.6.0', published, rollback('4.4.0'), { previousVersion: '4.5.0' })).toEqual([
      'system.version: a rollback publishes no new version: keep system.version at the published 4.5.0, got 4.6.0',
    ]);
  });

  it('needs a target lower than the current version, even without context', () => {
    const rolled = manifest(
      manifestText({ version: '4.5.0', packages: published, extra: rollback('4.4.0') }),
    );
    expect(checkManifestRules(rolled)).toEqual([]);
    const upward = { ...rolled, rollback: { to: '4.5.0', reason: 'x' } };
    expect(checkManifestRules(upward).map(brief)).toEqual([
      'rollback.to: a rollback goes to a version lower than 4.5.0, got 4.5.0',
    ]);
  });

  it('cannot be combined with a hotfix', () => {
    const both = manifest(
      manifestText({ version: '4.5.0', packages: published, extra: rollback('4.4.0') }),
    );
    expect(checkManifestRules({ ...both, hotfix: { reason: 'x' } }, {}).map(brief)).toEqual([
      'rollback: a manifest is either a hotfix or a rollback, not both',
    ]);
  });
});

describe('rules through validateManifestText', () => {
  it('locates context issues in the file', () => {
    const text = manifestText({ version: '4.4.0', packages: published });
    const { manifest: value, issues } = validateManifestText(text, 'manifests/testing.yaml', {
      previousVersion: '4.5.0',
    });
    expect(value).toBeUndefined();
    expect(issues).toEqual([
      {
        severity: 'error',
        file: 'manifests/testing.yaml',
        line: 3,
        column: 12,
        path: 'system.version',
        message: 'must be greater than the published 4.5.0, got 4.4.0',
      },
    ]);
  });
});
