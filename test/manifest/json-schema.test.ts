import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  manifestJsonSchema,
  manifestSchemaFile,
  renderJsonSchema,
} from '../../src/manifest/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The committed schema must be what the zod schema generates. To regenerate after changing
 * src/manifest/schema.ts: `UPDATE_SCHEMAS=1 npx vitest run test/manifest/json-schema.test.ts`.
 */
describe('schemas/manifest.schema.json', () => {
  const path = `${root}${manifestSchemaFile}`;
  const generated = renderJsonSchema(manifestJsonSchema());

  it('matches the zod schema (no drift)', () => {
    if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(path, generated);
    expect(existsSync(path), `${manifestSchemaFile} is missing: run with UPDATE_SCHEMAS=1`).toBe(
      true,
    );
    expect(readFileSync(path, 'utf8')).toBe(generated);
  });

  it('rejects unknown keys and requires the closed package set', () => {
    const schema = manifestJsonSchema() as {
      additionalProperties: unknown;
      required: string[];
      properties: {
        packages: { minProperties: number; additionalProperties: { pattern: string } };
      };
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['channel', 'system', 'base', 'packages']);
    expect(schema.properties.packages.minProperties).toBe(1);
    expect(new RegExp(schema.properties.packages.additionalProperties.pattern).test('^5.2')).toBe(
      false,
    );
  });

  it('says a file has content or source', () => {
    const text = JSON.stringify(manifestJsonSchema());
    expect(text).toContain('"oneOf":[{"required":["content"]},{"required":["source"]}]');
  });
});
