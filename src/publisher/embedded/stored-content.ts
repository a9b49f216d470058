import type { Compression } from '../../cvmfs/catalog/entry.js';

/** Where a regular file's content went: one object, or a list of chunk objects. */
export interface StoredContent {
  /** Hex hash of the whole-file object; `''` for a chunked file. */
  hash: string;
  compression: Compression;
  chunks?: Array<{ offset: number; size: number; hash: string }>;
}

/** Content as a compact string: `<compression>:<hash>`, or JSON for a chunked file. */
export function encodeContent(content: StoredContent): string {
  return content.chunks === undefined
    ? `${content.compression}:${content.hash}`
    : JSON.stringify(content);
}

export function decodeContent(text: string): StoredContent {
  if (text.startsWith('{')) return JSON.parse(text) as StoredContent;
  const at = text.indexOf(':');
  return {
    compression: text.slice(0, at) as StoredContent['compression'],
    hash: text.slice(at + 1),
  };
}
