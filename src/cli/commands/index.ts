import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every command group, by the name it is called with, and how to load it. A run loads only the
 * group it calls (a command's module graph is a good part of its start-up time); help and
 * unknown names load them all.
 */
const groups: Record<string, () => Promise<Register>> = {
  keys: async () => (await import('./keys.js')).registerKeysCommands,
  repo: async () => (await import('./repo.js')).registerRepoCommands,
  validate: async () => (await import('./validate.js')).registerValidateCommand,
  lock: async () => (await import('./lock.js')).registerLockCommand,
  build: async () => (await import('./build.js')).registerBuildCommand,
  plan: async () => (await import('./plan.js')).registerPlanCommand,
  reconcile: async () => (await import('./reconcile.js')).registerReconcileCommand,
  promote: async () => (await import('./promote.js')).registerPromoteCommands,
  hotfix: async () => (await import('./promote.js')).registerPromoteCommands,
  outdated: async () => (await import('./outdated.js')).registerOutdatedCommand,
  history: async () => (await import('./history.js')).registerHistoryCommand,
  image: async () => (await import('./image.js')).registerImageCommands,
};

/** The command a command line calls: its first argument that is not a global option. */
export function calledCommand(argv: readonly string[]): string | undefined {
  return argv.find((arg) => !arg.startsWith('-'));
}

/** Registers the group `argv` calls, or every group (in their listed order) for anything else. */
export async function registerCommands(
  program: Command,
  argv: readonly string[] = [],
): Promise<void> {
  const called = calledCommand(argv);
  const wanted =
    called !== undefined && called in groups
      ? [groups[called]!]
      : [...new Set(Object.values(groups))];
  const registered = new Set<Register>();
  for (const load of wanted) {
    const register = await load();
    if (registered.has(register)) continue;
    registered.add(register);
    register(program);
  }
}
