import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateManifestText } from '../../src/manifest/index.js';
import { validatePipelineText } from '../../src/pipeline/index.js';

const docs = readFileSync(
  fileURLToPath(new URL('../../docs/manifest.md', import.meta.url)),
  'utf8',
);

/** The YAML examples of docs/manifest.md that start with a schema comment (complete files). */
function completeExamples(schema: string): string[] {
  const blocks = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  const comment = `# yaml-language-server: $schema=../schemas/${schema}\n`;
  return blocks.filter((block) => block.startsWith(comment) && block.length > comment.length);
}

describe('docs/manifest.md', () => {
  it('shows a valid manifest', () => {
    const examples = completeExamples('manifest.schema.json');
    expect(examples).toHaveLength(1);
    expect(validateManifestText(examples[0] ?? '', 'manifests/testing.yaml').issues).toEqual([]);
  });

  it('shows a valid pipeline file', () => {
    const examples = completeExamples('pipeline.schema.json');
    expect(examples).toHaveLength(1);
    expect(validatePipelineText(examples[0] ?? '', 'pipeline/pipeline.yaml').issues).toEqual([]);
  });
});
