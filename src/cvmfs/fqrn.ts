/** The rules of repository and tag names, in one place (the pipeline schema uses them too). */
export const FQRN_MAX_LENGTH = 60;
export const FQRN_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*\.[A-Za-z0-9_.-]*$/;
export const TAG_MAX_LENGTH = 255;
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.+:@=-]*$/;

/** Why a repository name is not valid, or undefined. Rules of `cvmfs_server` (`is_valid_repo_name`) plus a dot. */
export function fqrnProblem(name: string): string | undefined {
  if (name.length === 0) return 'the repository name is empty';
  if (name.length > FQRN_MAX_LENGTH)
    return `the repository name is ${name.length} characters; at most ${FQRN_MAX_LENGTH} are allowed`;
  if (!/^[A-Za-z0-9]/.test(name)) return 'the repository name must start with a letter or digit';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
    return 'the repository name may contain only letters, digits, "_", "." and "-"';
  if (!name.includes('.'))
    return 'the repository name must be fully qualified (contain a dot, e.g. os.example.org)';
  return undefined;
}

/** Why a tag name is not valid, or undefined. Tags are single words (the server refuses spaces). */
export function tagNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the tag name is empty';
  if (name.length > TAG_MAX_LENGTH)
    return `the tag name is longer than ${TAG_MAX_LENGTH} characters`;
  if (!TAG_PATTERN.test(name)) {
    return 'a tag name starts with a letter or digit and contains only letters, digits and _ . + : @ = -';
  }
  return undefined;
}

/** Tags the publisher maintains itself; users cannot create, move or delete them. */
export const AUTOMATIC_TAGS: ReadonlySet<string> = new Set(['trunk', 'trunk-previous']);

/** The server's automatic tag for publishes without a name: `generic-<UTC time>`. */
export function automaticTagName(at: Date, taken: (name: string) => boolean): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  let name = `generic-${stamp}`;
  for (let n = 1; taken(name); n++) name = `generic_${n}-${stamp}`;
  return name;
}
