/**
 * `cvmfs_server publish -m` and `tag -m` pass the description to `sh -c` unquoted or inside
 * double quotes (cvmfs_server_publish.sh `-J $tag_description`, cvmfs_server_tag.sh
 * `-D "$add_tag_description"`): a space splits it, and `$(…)`, a backtick or a quote would run
 * or break the command. So a description goes to cvmfs_server as one word of characters no shell
 * treats specially; anything else travels base64url-encoded behind a prefix, and readers decode
 * it (ucvm's provenance is JSON, which always needs it).
 */
const SAFE = /^[A-Za-z0-9._:,+=@%/-]{1,200}$/;
export const ENCODED_PREFIX = 'ucvm-b64:';

export function descriptionWord(text: string): string {
  if (SAFE.test(text) && !text.startsWith(ENCODED_PREFIX)) return text;
  return `${ENCODED_PREFIX}${Buffer.from(text, 'utf8').toString('base64url')}`;
}

/** The text a description word stands for (a plain word stands for itself). */
export function descriptionText(word: string): string {
  if (!word.startsWith(ENCODED_PREFIX)) return word;
  const encoded = word.slice(ENCODED_PREFIX.length);
  return /^[A-Za-z0-9_-]*$/.test(encoded)
    ? Buffer.from(encoded, 'base64url').toString('utf8')
    : word;
}
