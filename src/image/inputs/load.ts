import path from 'node:path';
import type { FieldIssue, Issue } from '../../manifest/issue.js';
import { invalidFileError } from '../../manifest/load.js';
import { unreadableFileIssue, validateYamlText } from '../../manifest/validate-yaml.js';
import type { YamlValidation } from '../../manifest/validate-yaml.js';
import { readProjectText } from '../../project/read-text.js';
import { ImageInputs } from './schema.js';

/** Where a project keeps its image inputs. */
export const IMAGE_FILE = path.join('pipeline', 'image.yaml');

export function validateImageSource(text: string, file: string): YamlValidation<ImageInputs> {
  return validateYamlText(text, file, ImageInputs, { typed: imageRules });
}

/**
 * Every root must be in the closed set: an image is built only from pinned packages. The
 * locked set may hold more (the roots' dependencies), never less.
 */
function imageRules(inputs: ImageInputs): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const roots: Array<[string, string[]]> = [
    [inputs.kernel, ['kernel']],
    ...inputs.programs.map((name, index): [string, string[]] => [
      name,
      ['programs', String(index)],
    ]),
    ...inputs.files.map((name, index): [string, string[]] => [name, ['files', String(index)]]),
  ];
  const seen = new Set<string>();
  for (const [name, at] of roots) {
    if (seen.has(name))
      issues.push({ severity: 'error', path: at, message: `${name} is listed twice` });
    seen.add(name);
    if (inputs.packages[name] === undefined)
      issues.push({
        severity: 'error',
        path: at,
        message: `${name} is not pinned in packages: run \`ucvm image lock\``,
      });
  }
  return issues;
}

export function loadImageText(text: string, file: string): ImageInputs {
  const { value, issues } = validateImageSource(text, file);
  if (value !== undefined) return value;
  throw invalidFileError('IMAGE_INVALID', file, issues);
}

/** pipeline/image.yaml of a project, validated; a missing file is an IMAGE_INVALID error. */
export async function loadImageInputs(root: string): Promise<ImageInputs> {
  const file = path.join(root, IMAGE_FILE);
  let text: string;
  try {
    text = await readProjectText(file);
  } catch (error) {
    const issue: Issue = unreadableFileIssue(IMAGE_FILE, error);
    throw invalidFileError('IMAGE_INVALID', IMAGE_FILE, [issue]);
  }
  return loadImageText(text, IMAGE_FILE);
}
