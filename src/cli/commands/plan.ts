import type { Command } from 'commander';
import path from 'node:path';
import { Channel } from '../../manifest/schema.js';
import { UcvmError } from '../../errors.js';
import { appendSummary, setOutputs } from '../../actions/index.js';
import { planPipeline } from '../../reconcile/load.js';
import { hasChanges, hasRefusals, renderMarkdown, renderText } from '../../reconcile/render.js';
import { emit } from '../output.js';

/** `--detailed-exitcode`: the status when the plan has something to do (as Terraform's 2, but ours is taken). */
export const PLAN_CHANGES_EXIT = 3;

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description(
      "what reconcile would do: each channel's manifest against its repository (no private keys needed)",
    )
    .option('--root <dir>', 'root of the git repository', '.')
    .option('--channel <name...>', 'only these channels')
    .option(
      '--since <git-ref>',
      'only channels whose manifest changed since this revision (e.g. origin/main)',
    )
    .option(
      '--remote',
      'read the repositories through their url (default: their storage directory)',
    )
    .option('--json', 'print the plan as JSON')
    .option('--markdown', 'print the plan as Markdown (pull request comments, job summaries)')
    .option(
      '--detailed-exitcode',
      `exit ${PLAN_CHANGES_EXIT} when there is something to do, 0 when not`,
    )
    .addHelpText(
      'after',
      `\nExit status: 0 nothing to do (or anything with --detailed-exitcode off), ${PLAN_CHANGES_EXIT} changes pending (with --detailed-exitcode), 2 a manifest asks for something refused (e.g. VERSION_CONFLICT), 1 a repository could not be read.\n\nUnder GitHub Actions (GITHUB_ACTIONS=true) the plan is also appended to the job summary as Markdown, and the step outputs changes and refusals (true/false) are set.\n\nExamples:\n  $ ucvm plan\n  $ ucvm plan --remote --markdown > plan.md`,
    )
    .action(
      async (options: {
        root: string;
        channel?: string[];
        since?: string;
        remote?: boolean;
        json?: boolean;
        markdown?: boolean;
        detailedExitcode?: boolean;
      }) => {
        const channels = options.channel?.map((name) => {
          const parsed = Channel.safeParse(name);
          if (!parsed.success)
            throw new UcvmError('USAGE', `unknown channel ${JSON.stringify(name)}`, {
              details: `Channels: ${Channel.options.join(', ')}.`,
            });
          return parsed.data;
        });
        const plan = await planPipeline({
          root: path.resolve(options.root),
          ...(options.remote === true && { remote: true }),
          ...(channels !== undefined && { channels }),
          ...(options.since !== undefined && { since: options.since }),
        });
        if (options.markdown === true && options.json !== true)
          process.stdout.write(renderMarkdown(plan));
        else emit(options.json === true, plan, () => renderText(plan));
        // Under GitHub Actions: the plan as the job summary, and outputs for later steps.
        await appendSummary(renderMarkdown(plan));
        setOutputs({ changes: hasChanges(plan), refusals: hasRefusals(plan) });
        if (hasRefusals(plan)) process.exitCode = 2;
        else if (options.detailedExitcode === true && hasChanges(plan))
          process.exitCode = PLAN_CHANGES_EXIT;
      },
    );
}
