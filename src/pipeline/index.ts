export { pipelineJsonSchema, pipelineSchemaFile } from './json-schema.js';
export { loadPipelineText, validatePipelineFile, validatePipelineText } from './load.js';
export type { PipelineValidation } from './load.js';
export { fileKind, validateProject } from './project.js';
export type { FileKind, ProjectFile, ProjectValidation } from './project.js';
export { checkPipelineRules } from './rules.js';
export { AptSource, Backend, CheckName, Duration, Gate, ImageSettings, KeyReference, PipelineConfig, RepositorySettings, RepositoryName, TagName } from './schema.js';
export type { PipelineConfigInput } from './schema.js';
