import type { HistoryDatabase } from '../../cvmfs/history.js';

/**
 * Which tags may move is a property of the repository, recorded at init in its (signed) tag
 * database, so that no command-line flag can turn a named, immutable snapshot into a movable
 * one. Repositories created before this property existed have the default, HEAD.
 */
const PROPERTY = 'ucvm_rolling_tags';
const DEFAULT_ROLLING_TAGS = ['HEAD'];

export function recordRollingTags(history: HistoryDatabase, tags: readonly string[]): void {
  history.setProperty(PROPERTY, [...new Set(tags)].join(' '));
}

export function rollingTagsOf(history: HistoryDatabase): string[] {
  const value = history.property(PROPERTY);
  return value === undefined ? DEFAULT_ROLLING_TAGS : value.split(' ').filter(Boolean);
}
