import { UcvmError } from '../errors.js';
import type { FieldIssue, Issue } from './issue.js';
import { formatIssue } from './issue.js';
import type { ManifestContext } from './rules.js';
import { checkDraftConsistency, checkManifestRules } from './rules.js';
import { Channel, channels, Manifest, ManifestDraft } from './schema.js';
import type { ReadText, YamlValidation } from './validate-yaml.js';
import { unreadableFileIssue, validateYamlText } from './validate-yaml.js';

export interface ManifestValidation {
  /** The manifest, with defaults filled in, when it has no error. */
  manifest?: Manifest;
  issues: Issue[];
}

/** Validates manifest text; `file` names it in issues and must be `<channel>.yaml`. */
export function validateManifestText(
  text: string,
  file: string,
  context: ManifestContext = {},
): ManifestValidation {
  const { value, issues } = validateManifestSource(text, file, context);
  return value === undefined ? { issues } : { manifest: value, issues };
}

/** Like validateManifestText, and also returns the parsed source for locating further issues. */
export function validateManifestSource(
  text: string,
  file: string,
  context: ManifestContext = {},
): YamlValidation<Manifest> {
  return validateYamlText(text, file, Manifest, {
    raw: (data) => checkFileName(data, file),
    typed: (manifest) => checkManifestRules(manifest, context),
  });
}

/**
 * Validates a manifest that `ucvm lock` is about to pin: like validateManifestText, except that
 * `packages` may be missing or empty and `install` roots need not be pinned yet.
 */
export function validateManifestDraftText(
  text: string,
  file: string,
): YamlValidation<ManifestDraft> {
  return validateYamlText(text, file, ManifestDraft, {
    raw: (data) => checkFileName(data, file),
    typed: (draft) => checkDraftConsistency(draft),
  });
}

/** Reads and validates a manifest; a file that cannot be read is an issue, not an exception. */
export async function validateManifestFile(
  path: string,
  readText: ReadText,
  context: ManifestContext = {},
): Promise<ManifestValidation> {
  let text: string;
  try {
    text = await readText(path);
  } catch (error) {
    return { issues: [unreadableFileIssue(path, error)] };
  }
  return validateManifestText(text, path, context);
}

/** The manifest, or a MANIFEST_INVALID error whose details list every issue. */
export function loadManifestText(
  text: string,
  file: string,
  context: ManifestContext = {},
): Manifest {
  const { manifest, issues } = validateManifestText(text, file, context);
  if (manifest !== undefined) return manifest;
  throw invalidFileError('MANIFEST_INVALID', file, issues);
}

export function invalidFileError(
  code: 'MANIFEST_INVALID' | 'PIPELINE_INVALID' | 'IMAGE_INVALID',
  file: string,
  issues: readonly Issue[],
): UcvmError {
  const errors = issues.filter((issue) => issue.severity === 'error');
  const first = errors[0];
  return new UcvmError(
    code,
    `${file} is not valid (${errors.length} ${errors.length === 1 ? 'error' : 'errors'})`,
    {
      details: `${errors.map(formatIssue).join('\n')}\nRun \`ucvm validate\` to see every issue.`,
      ...(first === undefined
        ? {}
        : { where: { file, line: first.line, column: first.column, path: first.path } }),
    },
  );
}

/** `manifests/testing.yaml` declares channel `testing`: the name is the key, the field confirms it. */
function checkFileName(data: unknown, file: string): FieldIssue[] {
  const channel = Channel.safeParse((data as { channel?: unknown } | null)?.channel);
  if (!channel.success) return [];
  const base = baseName(file).replace(/\.ya?ml$/, '');
  if (base === channel.data) return [];
  const message = (channels as readonly string[]).includes(base)
    ? `the file ${baseName(file)} declares channel ${base}, not ${channel.data}`
    : `a manifest is named after its channel: rename ${baseName(file)} to ${channel.data}.yaml`;
  return [{ severity: 'error', path: ['channel'], message }];
}

function baseName(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}
