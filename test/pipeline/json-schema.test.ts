import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderJsonSchema } from '../../src/manifest/index.js';
import { pipelineJsonSchema, pipelineSchemaFile } from '../../src/pipeline/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Regenerate with `UPDATE_SCHEMAS=1 npx vitest run test/pipeline/json-schema.test.ts`. */
describe('schemas/pipeline.schema.json', () => {
  it('matches the zod schema (no drift)', () => {
    const path = `${root}${pipelineSchemaFile}`;
    const generated = renderJsonSchema(pipelineJsonSchema());
    if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(path, generated);
    expect(existsSync(path), `${pipelineSchemaFile} is missing: run with UPDATE_SCHEMAS=1`).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(generated);
  });

  it('rejects unknown keys and makes defaults optional', () => {
    const schema = pipelineJsonSchema() as { additionalProperties: unknown; required: string[] };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['repositories', 'channels', 'pool']);
  });
});
