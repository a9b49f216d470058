import { z } from 'zod';
import { ImageInputs } from './schema.js';

export const imageSchemaFile = 'schemas/image.schema.json';

/** The JSON Schema of pipeline/image.yaml, for editors (input side: defaults optional). */
export function imageJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ImageInputs, { io: 'input' });
}
