import { describe, expect, it } from 'vitest';
import { diffManifests, isEmptyDiff } from '../../src/manifest/index.js';
import { manifest, manifestText, validManifestText } from './fixtures.js';

describe('diffManifests', () => {
  it('sorts package changes into added, removed, upgraded and downgraded', () => {
    const from = manifest(
      manifestText({
        version: '5.1.0',
        packages: {
          bash: '5.2.15-2',
          coreutils: '9.1-1',
          libc6: '2.36-9+deb12u4',
          nano: '7.2-1',
          zsh: '5.9-4',
        },
      }),
    );
    const to = manifest(
      manifestText({
        version: '5.2.0',
        packages: {
          bash: '5.2.15-2+b2',
          coreutils: '9.1-1',
          libc6: '2.36-9+deb12u3',
          vim: '2:9.0.1378-2',
          curl: '7.88.1-10',
        },
      }),
    );
    expect(diffManifests(from, to)).toEqual({
      system: { from: '5.1.0', to: '5.2.0' },
      added: [
        { name: 'curl', version: '7.88.1-10' },
        { name: 'vim', version: '2:9.0.1378-2' },
      ],
      removed: [
        { name: 'nano', version: '7.2-1' },
        { name: 'zsh', version: '5.9-4' },
      ],
      upgraded: [{ name: 'bash', from: '5.2.15-2', to: '5.2.15-2+b2' }],
      downgraded: [{ name: 'libc6', from: '2.36-9+deb12u4', to: '2.36-9+deb12u3' }],
      filesChanged: [],
    });
  });

  it.each([
    ['1.0-1', '1.0-1~bpo1', 'downgraded'],
    ['1.0~rc1-1', '1.0-1', 'upgraded'],
    ['1:1.0-1', '2.0-1', 'downgraded'],
    ['9.0-1', '10.0-1', 'upgraded'],
    ['0:1.0-1', '1.0-1', 'unchanged'],
  ])('compares %s → %s with Debian ordering (%s)', (before, after, expected) => {
    const diff = diffManifests(
      manifest(manifestText({ version: '1.0.0', packages: { pkg: before } })),
      manifest(manifestText({ version: '1.0.1', packages: { pkg: after } })),
    );
    const kind =
      diff.upgraded.length > 0
        ? 'upgraded'
        : diff.downgraded.length > 0
          ? 'downgraded'
          : 'unchanged';
    expect(kind).toBe(expected);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
  });

  it('lists added, removed and modified files', () => {
    const from = manifest(validManifestText);
    const text = validManifestText
      .replace('      Welcome to CernVM', '      Welcome to CernVM 5.2')
      .replace(
        '  - path: /.ucernvm_bootstrap\n    source: os/bootstrap.sh\n    mode: "0755"\n',
        '  - path: /etc/issue\n    content: CernVM\n',
      );
    const to = manifest(text);
    expect(diffManifests(from, to).filesChanged).toEqual([
      { path: '/.ucernvm_bootstrap', change: 'removed' },
      { path: '/etc/issue', change: 'added' },
      { path: '/etc/motd', change: 'modified' },
    ]);
  });

  it('sees a mode change but not "644" versus "0644"', () => {
    const from = manifest(validManifestText);
    const modeOnly = manifest(validManifestText.replace('    mode: "0755"', '    mode: "0700"'));
    const sameMode = manifest(validManifestText.replace('    mode: "0644"', '    mode: "644"'));
    expect(diffManifests(from, modeOnly).filesChanged).toEqual([
      { path: '/.ucernvm_bootstrap', change: 'modified' },
    ]);
    expect(diffManifests(from, sameMode).filesChanged).toEqual([]);
  });

  it('is empty for the same content', () => {
    const diff = diffManifests(
      manifest(validManifestText),
      manifest(validManifestText.replace('5.1.0', '5.1.1')),
    );
    expect(diff.system).toEqual({ from: '5.1.0', to: '5.1.1' });
    expect(isEmptyDiff(diff)).toBe(true);
  });
});
