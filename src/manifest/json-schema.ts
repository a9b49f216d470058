import { z } from 'zod';
import { Manifest, TreeFile } from './schema.js';

/** Where the committed schemas live, relative to the repository root. */
export const manifestSchemaFile = 'schemas/manifest.schema.json';

/**
 * The JSON Schema of manifests (for editors: the first line of a manifest can point the YAML
 * language server at it). Generated for the input side, so fields with defaults are optional.
 */
export function manifestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(Manifest, {
    io: 'input',
    override(context) {
      // A refinement is invisible to JSON Schema; say "content or source, not both" explicitly.
      if (context.zodSchema === TreeFile) {
        context.jsonSchema.oneOf = [{ required: ['content'] }, { required: ['source'] }];
      }
    },
  });
}

/** The schema as committed: pretty JSON with a final newline. */
export function renderJsonSchema(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
