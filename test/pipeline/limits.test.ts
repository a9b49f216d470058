import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_YAML_BYTES } from '../../src/manifest/yaml-source.js';
import { loadPipelineText, validatePipelineText } from '../../src/pipeline/index.js';
import { ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';
import { validManifestText } from '../manifest/fixtures.js';
import { validPipelineText } from './fixtures.js';

const file = 'pipeline/pipeline.yaml';

/** The valid pipeline padded with a trailing comment to exactly `size` bytes. */
function paddedTo(size: number): string {
  const padding = size - Buffer.byteLength(validPipelineText) - 3;
  return `${validPipelineText}# ${'x'.repeat(padding)}\n`;
}

/** A "billion laughs" under `sources`: ten levels, each alias expanding the one before ten times. */
function aliasBomb(): string {
  const lines = [validPipelineText.trimEnd(), 'x0: &x0 ["lol"]'];
  for (let i = 1; i < 10; i++)
    lines.push(`x${i}: &x${i} [${Array.from({ length: 10 }, () => `*x${i - 1}`).join(', ')}]`);
  lines.push('bomb: *x9');
  return `${lines.join('\n')}\n`;
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('bounds of the pipeline file', () => {
  it('accepts a file of exactly the limit and refuses one byte more, naming size and limit', () => {
    expect(Buffer.byteLength(paddedTo(MAX_YAML_BYTES))).toBe(MAX_YAML_BYTES);
    expect(validatePipelineText(paddedTo(MAX_YAML_BYTES), file).issues).toEqual([]);

    const over = paddedTo(MAX_YAML_BYTES + 1);
    const { pipeline, issues } = validatePipelineText(over, file);
    expect(pipeline).toBeUndefined();
    expect(issues).toMatchObject([{ severity: 'error', file, line: 1, column: 1 }]);
    expect(issues[0]!.message).toContain(`${MAX_YAML_BYTES + 1} bytes`);
    expect(issues[0]!.message).toContain(`at most ${MAX_YAML_BYTES}`);
    expect(thrown(() => loadPipelineText(over, file))).toMatchObject({
      code: 'PIPELINE_INVALID',
      message: expect.stringContaining(file) as unknown,
      details: expect.stringContaining(`${MAX_YAML_BYTES + 1} bytes`) as unknown,
    });
  });

  it('reports an alias bomb as a located PIPELINE_INVALID issue', () => {
    const text = aliasBomb();
    const bombLine = text.split('\n').findIndex((line) => line.startsWith('x1:')) + 1;
    const { pipeline, issues } = validatePipelineText(text, file);
    expect(pipeline).toBeUndefined();
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', file, line: bombLine });
    expect(issues[0]!.message).toMatch(/alias/i);
    expect(thrown(() => loadPipelineText(text, file))).toMatchObject({
      code: 'PIPELINE_INVALID',
      where: { file, line: bombLine },
    });
  });

  it('gives both as file:line:column issues, exit status 2, from the built CLI', async () => {
    const root = await tmpdir({
      'manifests/testing.yaml': validManifestText,
      [file]: paddedTo(MAX_YAML_BYTES + 1),
    });
    const pipelinePath = path.join(root, file);
    let result = ucvm(['validate'], { cwd: root });
    expect(result.status, result.stderr).toBe(2);
    expect(result.stdout).toContain(
      `${file}:1:1: the file is ${MAX_YAML_BYTES + 1} bytes or more; at most ${MAX_YAML_BYTES} are read`,
    );

    writeFileSync(pipelinePath, aliasBomb());
    result = ucvm(['validate'], { cwd: root });
    expect(result.status, result.stderr).toBe(2);
    expect(result.stdout).toMatch(/^pipeline\/pipeline\.yaml:\d+:\d+: .*alias/im);
    expect(result.stderr).not.toMatch(/\bat .*\.js:\d+/);

    writeFileSync(pipelinePath, paddedTo(MAX_YAML_BYTES));
    result = ucvm(['validate'], { cwd: root });
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });
});
