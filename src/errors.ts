/** Where a problem was found: a file position, a repository path, or a field. */
export interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
  /** Dotted field path (manifests) or repository path (trees, catalogs). */
  path?: string;
}

export type ErrorCode =
  | 'USAGE'
  | 'MANIFEST_INVALID'
  | 'PIPELINE_INVALID'
  | 'IMAGE_INVALID'
  | 'CLIENT_MISSING'
  | 'FQRN_INVALID'
  | 'TAG_INVALID'
  | 'TAG_IMMUTABLE'
  | 'TAG_NOT_FOUND'
  | 'TAG_RESERVED'
  | 'REPO_LOCKED'
  | 'REPO_NOT_FOUND'
  | 'REPO_EXISTS'
  | 'REPO_CORRUPT'
  | 'KEY_MISSING'
  | 'KEY_EXISTS'
  | 'WHITELIST_EXPIRED'
  | 'SIGNATURE_INVALID'
  | 'TREE_INVALID'
  | 'OBJECT_MISSING'
  | 'OBJECT_CORRUPT'
  | 'PATH_NOT_FOUND'
  | 'HTTP_FAILED'
  | 'COMMAND_FAILED'
  | 'PACKAGE_MISSING'
  | 'PACKAGE_CLOSURE'
  | 'PACKAGE_VERIFY'
  | 'RELEASE_SIGNATURE'
  | 'BUILD_FAILED'
  | 'VERIFY_FAILED'
  | 'BASE_UNVERIFIED'
  | 'STORAGE_IO'
  | 'STORAGE_UNSAFE'
  | 'LIMIT_EXCEEDED'
  | 'KEY_PERMISSIONS'
  | 'KEY_INVALID'
  | 'KEY_LOCATION'
  | 'VERSION_CONFLICT'
  | 'VERSION_UNKNOWN'
  | 'HOTFIX_REQUIRED'
  | 'HOTFIX_INVALID'
  | 'GATE_NOT_MET';

/** Codes that mean "the input was wrong" rather than "something failed": exit status 2. */
const inputCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'USAGE',
  'MANIFEST_INVALID',
  'PIPELINE_INVALID',
  'IMAGE_INVALID',
  'CLIENT_MISSING',
  'FQRN_INVALID',
  'TAG_INVALID',
  'TAG_RESERVED',
  'TREE_INVALID',
  'KEY_LOCATION',
  'VERSION_CONFLICT',
  'VERSION_UNKNOWN',
  'HOTFIX_REQUIRED',
  'HOTFIX_INVALID',
  'GATE_NOT_MET',
]);

export interface UcvmErrorOptions {
  details?: string;
  where?: ErrorLocation;
  cause?: unknown;
}

/**
 * The one error type library code throws for expected failures. `code` is stable and is what
 * tests and callers branch on; `message` is one line naming the thing; `details` says what was
 * found, why it is wrong and how to fix it.
 */
export class UcvmError extends Error {
  override readonly name = 'UcvmError';
  readonly code: ErrorCode;
  readonly details: string | undefined;
  readonly where: ErrorLocation | undefined;

  constructor(code: ErrorCode, message: string, options: UcvmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.where = options.where;
  }

  /** Exit status for the CLI: 2 for bad input, 1 for other expected failures. */
  get exitCode(): number {
    return inputCodes.has(this.code) ? 2 : 1;
  }
}

export function isUcvmError(error: unknown, code?: ErrorCode): error is UcvmError {
  return error instanceof UcvmError && (code === undefined || error.code === code);
}

/** Formats a location as `file:line:column path` (the parts that are known). */
export function formatLocation(where: ErrorLocation | undefined): string {
  if (where === undefined) return '';
  let text = where.file ?? '';
  if (where.file !== undefined && where.line !== undefined) {
    text += `:${where.line}`;
    if (where.column !== undefined) text += `:${where.column}`;
  }
  if (where.path !== undefined) text += text === '' ? where.path : ` ${where.path}`;
  return text;
}
