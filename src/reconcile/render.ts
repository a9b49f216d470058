import type { ChannelPlan } from './plan.js';
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

/** True if applying the plan would change any repository. */
export function hasChanges(plan: PipelinePlan): boolean {
  return plan.plans.some((channel) => channel.action.kind !== 'none');
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
    for (const refusal of channel.refusals)
      lines.push(`refused ${channel.channel}: ${refusal.code}: ${refusal.message}`);
  for (const drift of plan.drift) lines.push(`drift: ${drift}`);
  lines.push(hasChanges(plan) ? 'the repositories differ from the manifests' : 'nothing to do');
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
  if (refusals.length > 0) lines.push('', '**Refused**', '', ...refusals);
  if (plan.drift.length > 0)
    lines.push('', '**Drift**', '', ...plan.drift.map((d) => `- ${escape(d)}`));
  return `${lines.join('\n')}\n`;
}
