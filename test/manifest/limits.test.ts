import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateManifestText } from '../../src/manifest/load.js';
import { MAX_YAML_BYTES } from '../../src/manifest/yaml-source.js';
import { readProjectText } from '../../src/project/read-text.js';
import { ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';
import { validManifestText } from './fixtures.js';

/** A "billion laughs": nine levels of aliases, each expanding the one before ten times. */
function aliasBomb(): string {
  const lines = ['channel: testing', 'a0: &a0 ["lol"]'];
  for (let i = 1; i < 10; i++)
    lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  lines.push('bomb: *a9');
  return `${lines.join('\n')}\n`;
}

describe('bounds of what validate reads', () => {
  it('refuses a file over the limit before reading it whole, as a located issue', async () => {
    const dir = await tmpdir();
    const file = path.join(dir, 'testing.yaml');
    writeFileSync(file, `${validManifestText}# ${'x'.repeat(MAX_YAML_BYTES)}\n`);
    await expect(readProjectText(file)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    const text = `${validManifestText}# ${'x'.repeat(MAX_YAML_BYTES)}\n`;
    const { issues, manifest } = validateManifestText(text, 'manifests/testing.yaml');
    expect(manifest).toBeUndefined();
    expect(issues).toMatchObject([{ line: 1, column: 1, severity: 'error' }]);
    expect(issues[0]!.message).toMatch(/at most \d+ are read/);
  });

  it('reports an alias bomb as a located issue, not a crash', () => {
    const { issues, manifest } = validateManifestText(aliasBomb(), 'manifests/testing.yaml');
    expect(manifest).toBeUndefined();
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', line: 3 });
    expect(issues[0]!.message).toMatch(/cannot be expanded/);
  });

  it('gives both as file:line issues with exit status 2 from the CLI', async () => {
    const root = await tmpdir({
      'manifests/testing.yaml': aliasBomb(),
      'manifests/development.yaml': `${'#'.repeat(MAX_YAML_BYTES + 10)}\n`,
    });
    const result = ucvm(['validate'], { cwd: root });
    expect(result.status, result.stderr).toBe(2);
    expect(result.stdout).toMatch(/manifests\/testing\.yaml:3:\d+.*cannot be expanded/);
    expect(result.stdout).toMatch(/manifests\/development\.yaml:1:1.*at most \d+ are read/);
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});
