import { describe, expect, it } from 'vitest';
import {
  formatIssue,
  manifestJsonSchema,
  validateManifestDraftText,
  validateManifestText,
} from '../../src/manifest/index.js';
import { validManifestText } from './fixtures.js';

const file = 'manifests/testing.yaml';

function withInstall(list: string, text = validManifestText): string {
  return text.replace('packages:\n', `install:\n${list}packages:\n`);
}

describe('install (the roots)', () => {
  it('is optional and, when given, lists pinned packages', () => {
    const { manifest, issues } = validateManifestText(withInstall('  - bash\n  - systemd\n'), file);
    expect(issues).toEqual([]);
    expect(manifest?.install).toEqual(['bash', 'systemd']);
    expect(validateManifestText(validManifestText, file).manifest?.install).toBeUndefined();
  });

  it('reports a root that is not pinned, at its list entry', () => {
    const { manifest, issues } = validateManifestText(withInstall('  - bash\n  - curl\n'), file);
    expect(manifest).toBeUndefined();
    expect(issues.map(formatIssue)).toEqual([
      'manifests/testing.yaml:17:5 install.1: curl is not pinned under packages: run `ucvm lock testing` to pin it and its dependencies',
    ]);
  });

  it('reports a root listed twice and an invalid name', () => {
    const { issues } = validateManifestText(withInstall('  - bash\n  - bash\n'), file);
    expect(issues.map(formatIssue)).toEqual([
      'manifests/testing.yaml:17:5 install.1: bash is listed twice',
    ]);
    const invalid = validateManifestText(withInstall('  - Bash\n'), file).issues;
    expect(invalid.map((issue) => issue.path)).toEqual(['install.0']);
  });

  it('is in the JSON Schema as a list of package names', () => {
    const schema = manifestJsonSchema() as {
      properties: { install: { type: string; items: { pattern: string } } };
    };
    expect(schema.properties.install.type).toBe('array');
    expect(new RegExp(schema.properties.install.items.pattern).test('systemd-sysv')).toBe(true);
    expect(new RegExp(schema.properties.install.items.pattern).test('Bash')).toBe(false);
  });
});

describe('validateManifestDraftText (before ucvm lock)', () => {
  const draft = `channel: testing
system:
  version: 1.0.0
base:
  distribution: debian
  suite: bookworm
  architecture: amd64
install: [bash, curl]
`;

  it('accepts missing packages and unpinned roots', () => {
    const { value, issues } = validateManifestDraftText(draft, file);
    expect(issues).toEqual([]);
    expect(value?.packages).toBeUndefined();
    expect(validateManifestDraftText(`${draft}packages: {}\n`, file).issues).toEqual([]);
    expect(validateManifestDraftText(`${draft}packages:\n`, file).issues).toEqual([]);
  });

  it('checks everything else as strictly as a manifest', () => {
    const { value, issues } = validateManifestDraftText(
      `${draft}packages:\n  bash: "^5"\nextra: 1\n`,
      file,
    );
    expect(value).toBeUndefined();
    expect(issues.map((issue) => issue.path)).toEqual(['packages.bash', 'extra']);
    const twice = validateManifestDraftText(draft.replace('[bash, curl]', '[bash, bash]'), file);
    expect(twice.issues.map((issue) => issue.message)).toEqual(['bash is listed twice']);
  });
});
