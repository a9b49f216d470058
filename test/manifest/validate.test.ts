import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import {
  formatIssue,
  loadManifestText,
  validateManifestFile,
  validateManifestText,
} from '../../src/manifest/index.js';
import type { Issue } from '../../src/manifest/index.js';
import { validManifestText } from './fixtures.js';

const file = 'manifests/testing.yaml';

/** The valid fixture with one line replaced (the line must exist exactly once). */
function edit(from: string, to: string): string {
  expect(validManifestText.split(from)).toHaveLength(2);
  return validManifestText.replace(from, to);
}

/** A message matcher for the table below (typed, unlike expect.stringContaining). */
function containing(text: string): unknown {
  return expect.stringContaining(text) as unknown;
}

function brief(issue: Issue): string {
  return `${issue.line}:${issue.column} ${issue.path}`;
}

describe('validateManifestText', () => {
  it('accepts a valid manifest and fills in defaults', () => {
    const { manifest, issues } = validateManifestText(validManifestText, file);
    expect(issues).toEqual([]);
    expect(manifest?.channel).toBe('testing');
    expect(manifest?.system).toEqual({
      name: 'cernvm-system',
      version: '5.1.0',
      description: 'CernVM 5.1 on Debian bookworm',
      changelog: ['bash 5.2.15', 'new motd'],
    });
    expect(manifest?.packages.bash).toBe('5.2.15-2+b2');
    expect(manifest?.files[0]).toEqual({
      path: '/etc/motd',
      content: 'Welcome to CernVM\n',
      mode: '0644',
    });
    expect(manifest?.files[2]?.mode).toBe('0755');
  });

  it('defaults the meta package name and the file list', () => {
    const text =
      'channel: development\nsystem:\n  version: 1.0.0\nbase: {distribution: debian, suite: bookworm, architecture: arm64}\npackages:\n  bash: 5.2.15-2+b2\n';
    const { manifest, issues } = validateManifestText(text, 'manifests/development.yaml');
    expect(issues).toEqual([]);
    expect(manifest?.system.name).toBe('cernvm-system');
    expect(manifest?.files).toEqual([]);
  });

  it.each([
    {
      name: 'a version range',
      from: '  bash: 5.2.15-2+b2',
      to: '  bash: "^5.2"',
      at: '17:9 packages.bash',
      message: 'expected an exact version, got "^5.2"',
    },
    {
      name: 'a comparison',
      from: '  bash: 5.2.15-2+b2',
      to: '  bash: ">= 5.2"',
      at: '17:9 packages.bash',
      message: 'expected an exact version, got ">= 5.2"',
    },
    {
      name: 'a wildcard',
      from: '  bash: 5.2.15-2+b2',
      to: '  bash: "*"',
      at: '17:9 packages.bash',
      message: 'expected an exact version, got "*"',
    },
    {
      name: 'a malformed Debian version',
      from: '  bash: 5.2.15-2+b2',
      to: '  bash: latest',
      at: '17:9 packages.bash',
      message:
        'expected a Debian version [epoch:]upstream[-revision] such as 5.2.15-2+b2, got "latest"',
    },
    {
      name: 'a version YAML reads as a number',
      from: '  coreutils: 9.1-1',
      to: '  coreutils: 9.10',
      at: '18:14 packages.coreutils',
      message:
        'expected a string, got 9.10, which YAML reads as a number: write it in quotes, "9.10"',
    },
    {
      name: 'an invalid package name (at the key)',
      from: '  bash: 5.2.15-2+b2',
      to: '  Bash_Shell: 5.2.15-2+b2',
      at: '17:3 packages.Bash_Shell',
      message: containing('invalid Debian package name "Bash_Shell"'),
    },
    {
      name: 'an unknown channel',
      from: 'channel: testing',
      to: 'channel: prod',
      at: '2:10 channel',
      message: 'expected one of "development", "testing", "production", got "prod"',
    },
    {
      name: 'a channel that does not match the file name',
      from: 'channel: testing',
      to: 'channel: production',
      at: '2:10 channel',
      message: 'the file testing.yaml declares channel testing, not production',
    },
    {
      name: 'a version that is not semver',
      from: '  version: 5.1.0',
      to: '  version: v5.1.0',
      at: '5:12 system.version',
      message: containing('expected a semantic version such as 4.5.0'),
    },
    {
      name: 'build metadata in the version',
      from: '  version: 5.1.0',
      to: '  version: 5.1.0+build7',
      at: '5:12 system.version',
      message: containing('no "+build"'),
    },
    {
      name: 'a missing field (at the parent mapping)',
      from: '  version: 5.1.0\n',
      to: '',
      at: '4:3 system.version',
      message: 'missing required field',
    },
    {
      name: 'a missing section (at the document)',
      from: 'base:\n  distribution: debian\n  suite: bookworm\n  architecture: amd64\n  snapshot: 20240601T000000Z\n',
      to: '',
      at: '2:1 base',
      message: 'missing required field',
    },
    {
      name: 'an empty package set',
      from: 'packages:\n  base-files: "12.4+deb12u5"\n  bash: 5.2.15-2+b2\n  coreutils: 9.1-1\n  libc6: 2.36-9+deb12u4\n  systemd: 252.22-1~deb12u1\n',
      to: 'packages: {}\n',
      at: '15:11 packages',
      message: 'must pin at least one package',
    },
    {
      name: 'a relative tree path',
      from: '  - path: /etc/motd',
      to: '  - path: etc/motd',
      at: '22:11 files.0.path',
      message: containing('expected an absolute path'),
    },
    {
      name: 'a tree path with ..',
      from: '  - path: /etc/motd',
      to: '  - path: /etc/../root/x',
      at: '22:11 files.0.path',
      message: containing('got "/etc/../root/x"'),
    },
    {
      name: 'a source outside the repository',
      from: '    source: os/pinfiles',
      to: '    source: ../secrets',
      at: '26:13 files.1.source',
      message: containing('relative to the repository root'),
    },
    {
      name: 'an unquoted mode',
      from: '    mode: "0755"',
      to: '    mode: 0755',
      at: '30:11 files.2.mode',
      message:
        'expected a string, got 0755, which YAML reads as a number: write it in quotes, "0755"',
    },
    {
      name: 'a mode that is not octal',
      from: '    mode: "0755"',
      to: '    mode: "0955"',
      at: '30:11 files.2.mode',
      message: 'expected an octal mode such as "0644", got "0955"',
    },
    {
      name: 'both content and source (at the entry)',
      from: '    source: os/pinfiles',
      to: '    source: os/pinfiles\n    content: x',
      at: '25:5 files.1',
      message: 'give either content or source, not both',
    },
    {
      name: 'neither content nor source',
      from: '    source: os/pinfiles\n',
      to: '',
      at: '25:5 files.1',
      message: 'give the file content or a source file',
    },
    {
      name: 'a file declared twice',
      from: '  - path: /.ucernvm_bootstrap',
      to: '  - path: /etc/motd',
      at: '28:11 files.2.path',
      message: '/etc/motd is declared twice',
    },
    {
      name: 'the meta package pinning itself',
      from: '  coreutils: 9.1-1',
      to: '  cernvm-system: 5.1.0-1',
      at: '18:18 packages.cernvm-system',
      message: 'the meta package cernvm-system cannot pin itself; it is system.name',
    },
    {
      name: 'a hotfix without a reason',
      from: '    mode: "0755"\n',
      to: '    mode: "0755"\nhotfix:\n  reason: "  "\n',
      at: '32:11 hotfix.reason',
      message: 'must not be empty',
    },
    {
      name: 'a rollback to a higher version',
      from: '    mode: "0755"\n',
      to: '    mode: "0755"\nrollback:\n  to: 5.2.0\n  reason: broken boot\n',
      at: '32:7 rollback.to',
      message: 'a rollback goes to a version lower than 5.1.0, got 5.2.0',
    },
  ])('reports $name', ({ from, to, at, message }) => {
    const { manifest, issues } = validateManifestText(edit(from, to), file);
    expect(manifest).toBeUndefined();
    expect(issues).toHaveLength(1);
    expect(brief(issues[0]!)).toBe(at);
    expect(issues[0]).toMatchObject({ severity: 'error', file, message });
  });

  it('reports every issue in one run, in file order', () => {
    const text = validManifestText
      .replace('  bash: 5.2.15-2+b2', '  bash: "^5.2"')
      .replace('  suite: bookworm', '  suite: Bookworm')
      .replace('    mode: "0755"', '    mode: 0755')
      .replace('channel: testing', 'channel: prod');
    const { issues } = validateManifestText(text, file);
    expect(issues.map(brief)).toEqual([
      '2:10 channel',
      '12:10 base.suite',
      '17:9 packages.bash',
      '30:11 files.2.mode',
    ]);
  });

  it('formats issues as file:line:column path: message', () => {
    const { issues } = validateManifestText(edit('  bash: 5.2.15-2+b2', '  bash: "^5.2"'), file);
    expect(issues.map(formatIssue)).toEqual([
      'manifests/testing.yaml:17:9 packages.bash: expected an exact version, got "^5.2"',
    ]);
  });

  it('points unknown keys at the key and suggests the right one', () => {
    const text = edit(
      '  description: CernVM 5.1 on Debian bookworm',
      '  descripton: CernVM',
    ).concat('extra: 1\n');
    const { issues } = validateManifestText(text, file);
    expect(issues).toEqual([
      {
        severity: 'error',
        file,
        line: 6,
        column: 3,
        path: 'system.descripton',
        message: 'unknown field "descripton" (did you mean "description"?)',
      },
      {
        severity: 'error',
        file,
        line: 31,
        column: 1,
        path: 'extra',
        message:
          'unknown field "extra"; allowed: channel, system, base, install, packages, files, hotfix, rollback',
      },
    ]);
  });

  it('rejects unknown keys in nested objects and list entries', () => {
    const text = edit('    mode: "0755"', '    mode: "0755"\n    owner: root').concat(
      'hotfix:\n  reason: CVE\n  severity: high\n',
    );
    const { issues } = validateManifestText(text, file);
    expect(issues.map((issue) => `${brief(issue)} ${issue.message}`)).toEqual([
      '31:5 files.2.owner unknown field "owner"; allowed: path, content, source, mode',
      '34:3 hotfix.severity unknown field "severity"; allowed: reason, advisories, upgrades',
    ]);
  });

  it('reports YAML syntax errors with their positions and skips the schema', () => {
    const text = 'channel: testing\nsystem:\n  version: [5.1.0\npackages:\n  bash: "5.2\n';
    const { manifest, issues } = validateManifestText(text, file);
    expect(manifest).toBeUndefined();
    // Both syntax errors, and no schema issue (such as the missing base) from a broken tree.
    expect(issues).toEqual([
      {
        severity: 'error',
        file,
        line: 4,
        column: 1,
        path: '',
        message:
          'invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      },
      {
        severity: 'error',
        file,
        line: 6,
        column: 1,
        path: '',
        message: 'invalid YAML: Missing closing "quote',
      },
    ]);
  });

  it('reports duplicate keys as errors, and still checks the rest', () => {
    const text = edit('  coreutils: 9.1-1', '  coreutils: 9.1-1\n  bash: 5.2.15-2').replace(
      '  suite: bookworm',
      '  suite: Bookworm',
    );
    const { manifest, issues } = validateManifestText(text, file);
    expect(manifest).toBeUndefined();
    expect(issues.map((issue) => `${brief(issue)} ${issue.message}`)).toEqual([
      '12:10 base.suite expected a suite (code name) such as "bookworm"',
      '19:3 packages.bash duplicate key "bash": each key may appear once in a mapping',
    ]);
  });

  it('reports an empty file and a file that is not a mapping', () => {
    expect(validateManifestText('', file).issues).toEqual([
      {
        severity: 'error',
        file,
        line: 1,
        column: 1,
        path: '',
        message: 'expected a mapping, got an empty value',
      },
    ]);
    expect(validateManifestText('# only a comment\n- a\n', file).issues).toEqual([
      {
        severity: 'error',
        file,
        line: 2,
        column: 1,
        path: '',
        message: 'expected a mapping, got a list',
      },
    ]);
  });

  it('reports a second YAML document as an error', () => {
    const { issues } = validateManifestText(`${validManifestText}---\nchannel: testing\n`, file);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      line: 31,
      column: 1,
      message: containing('multiple documents'),
    });
  });

  it('requires a manifest to be named after its channel', () => {
    const { issues } = validateManifestText(validManifestText, 'manifests/stable.yaml');
    expect(issues).toMatchObject([
      {
        line: 2,
        column: 10,
        path: 'channel',
        message: 'a manifest is named after its channel: rename stable.yaml to testing.yaml',
      },
    ]);
  });

  it('locates fields reached through YAML aliases', () => {
    const text = edit('base:\n', 'base: &base\n').replace(
      '  systemd: 252.22-1~deb12u1',
      '  systemd: 252.22-1~deb12u1\n  zz: *base',
    );
    const { issues } = validateManifestText(text, file);
    expect(issues.map(brief)).toEqual(['11:3 packages.zz']);
    expect(issues[0]?.message).toBe('expected a string, got a mapping');
  });
});

describe('validateManifestFile', () => {
  it('reads through the given reader', async () => {
    const read = (path: string): Promise<string> => {
      expect(path).toBe('/repo/manifests/testing.yaml');
      return Promise.resolve(validManifestText);
    };
    const { manifest, issues } = await validateManifestFile('/repo/manifests/testing.yaml', read);
    expect(issues).toEqual([]);
    expect(manifest?.system.version).toBe('5.1.0');
  });

  it('turns a missing file into an issue', async () => {
    const read = (): Promise<string> =>
      Promise.reject(Object.assign(new Error('nope'), { code: 'ENOENT' }));
    const { manifest, issues } = await validateManifestFile('manifests/testing.yaml', read);
    expect(manifest).toBeUndefined();
    expect(issues).toEqual([
      { severity: 'error', file, line: 1, column: 1, path: '', message: 'file not found' },
    ]);
  });
});

describe('loadManifestText', () => {
  it('returns the manifest when it is valid', () => {
    expect(loadManifestText(validManifestText, file).system.version).toBe('5.1.0');
  });

  it('throws MANIFEST_INVALID listing every issue', () => {
    const text = validManifestText
      .replace('  bash: 5.2.15-2+b2', '  bash: "^5.2"')
      .replace('channel: testing', 'channel: prod');
    try {
      loadManifestText(text, file);
      expect.unreachable();
    } catch (error) {
      expect(isUcvmError(error, 'MANIFEST_INVALID')).toBe(true);
      if (!isUcvmError(error)) return;
      expect(error.exitCode).toBe(2);
      expect(error.where).toEqual({ file, line: 2, column: 10, path: 'channel' });
      expect(error.details).toContain(
        'manifests/testing.yaml:17:9 packages.bash: expected an exact version, got "^5.2"',
      );
    }
  });
});
