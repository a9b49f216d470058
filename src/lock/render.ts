import type { LockResult } from './lock.js';

/**
 * The lock result as text: a summary line, then one line per change,
 * `+ curl 7.88.1-10+deb12u12`, `- libfoo 1.0-1`, `~ libssl3 3.0.15-1 → 3.0.16-1`.
 */
export function formatLockResult(result: LockResult, options: { dryRun?: boolean } = {}): string {
  const { diff, roots } = result;
  const lines: string[] = [];
  for (const name of roots.added) lines.push(`install + ${name}`);
  for (const name of roots.removed) lines.push(`install - ${name}`);
  for (const pin of diff.added) lines.push(`+ ${pin.name} ${pin.version}`);
  for (const pin of diff.removed) lines.push(`- ${pin.name} ${pin.version}`);
  for (const change of diff.upgraded) lines.push(`↑ ${change.name} ${change.from} → ${change.to}`);
  for (const change of diff.downgraded)
    lines.push(`↓ ${change.name} ${change.from} → ${change.to}`);
  const count = Object.keys(result.packages).length;
  const counts = [
    `${diff.added.length} added`,
    `${diff.removed.length} removed`,
    `${diff.upgraded.length} upgraded`,
    `${diff.downgraded.length} downgraded`,
  ].join(', ');
  const state = !result.changed
    ? 'already locked'
    : options.dryRun === true
      ? 'would change (dry run, not written)'
      : 'updated';
  lines.push(`${result.manifestPath}: ${state}; ${count} packages (${counts})`);
  return `${lines.join('\n')}\n`;
}
