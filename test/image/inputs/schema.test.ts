import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  imageJsonSchema,
  imageSchemaFile,
  validateImageSource,
} from '../../../src/image/inputs/index.js';
import { renderJsonSchema } from '../../../src/manifest/index.js';
import { formatIssue } from '../../../src/manifest/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const file = 'pipeline/image.yaml';
const sha = 'a'.repeat(64);

const valid = `version: 2026.12-1
base: { distribution: debian, suite: bookworm, architecture: amd64 }
kernel: linux-image-cloud-amd64
programs: [busybox-static]
files: [ca-certificates]
packages:
  busybox-static: { version: "1:1.35.0-4", sha256: ${sha} }
  ca-certificates: { version: "20250419", sha256: ${sha} }
  linux-image-cloud-amd64: { version: "6.1.192-3", sha256: ${sha} }
`;

function issues(text: string): string[] {
  return validateImageSource(text, file).issues.map(formatIssue);
}

describe('pipeline/image.yaml', () => {
  it('accepts the demo project’s file and a minimal locked one', () => {
    const demo = readFileSync(`${root}pipeline/image.yaml`, 'utf8');
    expect(issues(demo)).toEqual([]);
    expect(validateImageSource(valid, file).value?.modules).toEqual([]);
  });

  it.each([
    [
      'a version that is not YYYY.MM-R',
      'version: 2026.12-1',
      'version: 2026.13-1',
      'version: expected an image version YYYY.MM-R',
    ],
    [
      'an unpinned root',
      '  busybox-static: { version: "1:1.35.0-4", sha256: ' + sha + ' }\n',
      '',
      'programs.0: busybox-static is not pinned in packages: run `ucvm image lock`',
    ],
    [
      'a short hash',
      `ca-certificates: { version: "20250419", sha256: ${sha} }`,
      'ca-certificates: { version: "20250419", sha256: abc }',
      'packages.ca-certificates.sha256: expected a SHA-256 as 64 lower-case hex digits',
    ],
    [
      'a root listed twice',
      'files: [ca-certificates]',
      'files: [ca-certificates, busybox-static]',
      'files.1: busybox-static is listed twice',
    ],
    [
      'a client without a hash',
      'packages:',
      'client: { archive: env:CLIENT, version: 2.11.5 }\npackages:',
      'client.sha256: missing required field',
    ],
    [
      'a bad module name',
      'files: [ca-certificates]',
      'files: [ca-certificates]\nmodules: [Virtio]',
      'modules.0: expected a kernel module name such as virtio_blk',
    ],
  ])('reports %s, with its line', (_name, from, to, expected) => {
    const text = valid.replace(from, to);
    expect(text).not.toBe(valid);
    const found = issues(text);
    expect(
      found.some((line) => line.startsWith(`${file}:`) && line.includes(expected)),
      found.join('\n'),
    ).toBe(true);
  });
});

/** Regenerate with `UPDATE_SCHEMAS=1 npx vitest run test/image/inputs/schema.test.ts`. */
describe('schemas/image.schema.json', () => {
  it('matches the zod schema (no drift)', () => {
    const path = `${root}${imageSchemaFile}`;
    const generated = renderJsonSchema(imageJsonSchema());
    if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(path, generated);
    expect(existsSync(path), `${imageSchemaFile} is missing: run with UPDATE_SCHEMAS=1`).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(generated);
  });
});
