export { diffManifests, isEmptyDiff } from './diff.js';
export type { FileChange, ManifestDiff, PackageChange, PackagePin } from './diff.js';
export {
  debianVersionProblem,
  isDebianPackageName,
  isExactDebianVersion,
} from './debian-syntax.js';
export {
  escapeData,
  escapeProperty,
  formatGithubAnnotation,
  formatIssue,
  hasErrors,
  sortIssues,
} from './issue.js';
export type { FieldIssue, Issue, Severity } from './issue.js';
export { manifestJsonSchema, manifestSchemaFile, renderJsonSchema } from './json-schema.js';
export {
  invalidFileError,
  loadManifestText,
  validateManifestDraftText,
  validateManifestFile,
  validateManifestText,
} from './load.js';
export type { ManifestValidation } from './load.js';
export {
  checkManifestAgainstChannel,
  checkDraftConsistency,
  checkManifestConsistency,
  checkManifestRules,
} from './rules.js';
export type { ManifestContext } from './rules.js';
export {
  Base,
  Channel,
  channels,
  Hotfix,
  InstallList,
  Manifest,
  ManifestDraft,
  PackagePins,
  Rollback,
  SystemPackage,
  TreeFile,
} from './schema.js';
export type { ManifestInput } from './schema.js';
export type { YamlValidation } from './validate-yaml.js';
export type { ReadText } from './validate-yaml.js';
