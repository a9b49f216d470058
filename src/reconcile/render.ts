import type { ImagePlan } from '../image/plan.js';
import type { ChannelChanges, ChannelPlan } from './plan.js';
import type { PipelinePlan } from './load.js';

function actionText(plan: ChannelPlan): string {
  const { action } = plan;
  switch (action.kind) {
    case 'none':
      return 'none';
    case 'publish':
      return `publish ${plan.tag}`;
    case 'promote':
      return `promote ${plan.tag} from ${action.from} (${action.fromRepository})`;
    case 'rollback':
      return `roll back ${plan.repository}'s rolling tag to ${plan.tag}`;
    case 'move':
      return `move the rolling tag to ${plan.tag}`;
  }
}

function bytes(count: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = Math.abs(count);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${count < 0 ? '-' : '+'}${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** One line per kind of package change, and the file summary. */
export function changeLines(changes: ChannelChanges | undefined): string[] {
  if (changes === undefined) return [];
  const lines: string[] = [];
  const packages = changes.packages;
  if (packages !== undefined) {
    const moved = [
      ...packages.upgraded.map((c) => `${c.name} ${c.from} → ${c.to}`),
      ...packages.downgraded.map((c) => `${c.name} ${c.from} → ${c.to} (downgrade)`),
    ];
    if (moved.length > 0) lines.push(`packages: ${moved.join(', ')}`);
    if (packages.added.length > 0)
      lines.push(`added: ${packages.added.map((p) => `${p.name} ${p.version}`).join(', ')}`);
    if (packages.removed.length > 0)
      lines.push(`removed: ${packages.removed.map((p) => `${p.name} ${p.version}`).join(', ')}`);
    if (lines.length === 0) lines.push('packages: no change');
  } else if (changes.packagesUnavailable !== undefined)
    lines.push(`packages: no diff (${changes.packagesUnavailable})`);
  const files = changes.files;
  if (files !== undefined)
    lines.push(
      `files: ${files.added} added, ${files.removed} removed, ${files.modified} modified (${bytes(files.bytesDelta)})`,
    );
  return lines;
}

/** True if applying the plan would change any repository. */
export function hasChanges(plan: PipelinePlan): boolean {
  return (
    plan.plans.some((channel) => channel.action.kind !== 'none') ||
    plan.images.some((image) => image.action === 'build')
  );
}

function imageText(image: ImagePlan): string {
  return image.action === 'build'
    ? `build ${image.name} (${image.reason})`
    : `${image.name} up to date`;
}

export function hasRefusals(plan: PipelinePlan): boolean {
  return plan.plans.some((channel) => channel.refusals.length > 0);
}

/** Plain lines for a terminal or a CI log. */
export function renderText(plan: PipelinePlan): string {
  const lines = plan.plans.map(
    (channel) =>
      `${channel.channel.padEnd(12)} ${channel.repository.padEnd(32)} ${(channel.currentVersion ?? '-').padEnd(10)} -> ${channel.version.padEnd(10)} ${actionText(channel)}`,
  );
  for (const channel of plan.plans)
    for (const line of changeLines(channel.changes)) lines.push(`  ${channel.channel}: ${line}`);
  for (const channel of plan.plans)
    for (const refusal of channel.refusals)
      lines.push(`refused ${channel.channel}: ${refusal.code}: ${refusal.message}`);
  for (const image of plan.images)
    lines.push(`image ${image.channel.padEnd(12)} ${imageText(image)}`);
  for (const drift of plan.drift) lines.push(`drift: ${drift}`);
  for (const warning of plan.warnings) lines.push(`warning: ${warning}`);
  const repositories = plan.plans.some((channel) => channel.action.kind !== 'none');
  lines.push(
    repositories
      ? 'the repositories differ from the manifests'
      : hasChanges(plan)
        ? 'the repositories match the manifests; boot images to build'
        : 'nothing to do',
  );
  return lines.join('\n');
}

/** Markdown for a pull request comment or a job summary. */
export function renderMarkdown(plan: PipelinePlan): string {
  const escape = (text: string): string => text.replace(/[|\\`*_<>]/g, (char) => `\\${char}`);
  const lines = [
    '### ucvm plan',
    '',
    '| channel | repository | runs | wants | action |',
    '|---|---|---|---|---|',
    ...plan.plans.map(
      (channel) =>
        `| ${channel.channel} | ${escape(channel.repository)} | ${escape(channel.currentVersion ?? '-')} | ${escape(channel.version)} | ${escape(actionText(channel))} |`,
    ),
  ];
  const refusals = plan.plans.flatMap((channel) =>
    channel.refusals.map(
      (refusal) => `- **${channel.channel}**: \`${refusal.code}\` ${escape(refusal.message)}`,
    ),
  );
  for (const channel of plan.plans) {
    const details = changeLines(channel.changes);
    if (details.length > 0)
      lines.push('', `**${channel.channel}**`, '', ...details.map((line) => `- ${escape(line)}`));
  }
  if (plan.images.length > 0)
    lines.push(
      '',
      '**Boot images**',
      '',
      ...plan.images.map((image) => `- ${image.channel}: ${escape(imageText(image))}`),
    );
  if (refusals.length > 0) lines.push('', '**Refused**', '', ...refusals);
  if (plan.drift.length > 0)
    lines.push('', '**Drift**', '', ...plan.drift.map((d) => `- ${escape(d)}`));
  if (plan.warnings.length > 0)
    lines.push('', '**Reminders**', '', ...plan.warnings.map((w) => `- ${escape(w)}`));
  return `${lines.join('\n')}\n`;
}
