import type { Issue } from '../manifest/issue.js';
import { invalidFileError } from '../manifest/load.js';
import type { ReadText, YamlValidation } from '../manifest/validate-yaml.js';
import { unreadableFileIssue, validateYamlText } from '../manifest/validate-yaml.js';
import { checkPipelineRules } from './rules.js';
import { PipelineConfig } from './schema.js';

export interface PipelineValidation {
  /** The configuration, with defaults filled in, when it has no error. */
  pipeline?: PipelineConfig;
  issues: Issue[];
}

export function validatePipelineText(text: string, file: string): PipelineValidation {
  const { value, issues } = validatePipelineSource(text, file);
  return value === undefined ? { issues } : { pipeline: value, issues };
}

/** Like validatePipelineText, and also returns the parsed source for locating further issues. */
export function validatePipelineSource(text: string, file: string): YamlValidation<PipelineConfig> {
  return validateYamlText(text, file, PipelineConfig, { typed: checkPipelineRules });
}

/** Reads and validates the pipeline file; a file that cannot be read is an issue. */
export async function validatePipelineFile(path: string, readText: ReadText): Promise<PipelineValidation> {
  let text: string;
  try {
    text = await readText(path);
  } catch (error) {
    return { issues: [unreadableFileIssue(path, error)] };
  }
  return validatePipelineText(text, path);
}

/** The configuration, or a PIPELINE_INVALID error whose details list every issue. */
export function loadPipelineText(text: string, file: string): PipelineConfig {
  const { pipeline, issues } = validatePipelineText(text, file);
  if (pipeline !== undefined) return pipeline;
  throw invalidFileError('PIPELINE_INVALID', file, issues);
}
