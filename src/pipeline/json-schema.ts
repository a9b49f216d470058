import { z } from 'zod';
import { PipelineConfig } from './schema.js';

export const pipelineSchemaFile = 'schemas/pipeline.schema.json';

/** The JSON Schema of pipeline/pipeline.yaml, for editors (input side: defaults optional). */
export function pipelineJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PipelineConfig, { io: 'input' });
}
