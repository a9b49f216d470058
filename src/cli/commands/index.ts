import type { Command } from 'commander';
import { registerBuildCommand } from './build.js';
import { registerHistoryCommand } from './history.js';
import { registerKeysCommands } from './keys.js';
import { registerLockCommand } from './lock.js';
import { registerOutdatedCommand } from './outdated.js';
import { registerPlanCommand } from './plan.js';
import { registerPromoteCommands } from './promote.js';
import { registerReconcileCommand } from './reconcile.js';
import { registerRepoCommands } from './repo.js';
import { registerValidateCommand } from './validate.js';

/** Every command group, registered explicitly (no discovery). */
export function registerCommands(program: Command): void {
  registerKeysCommands(program);
  registerRepoCommands(program);
  registerValidateCommand(program);
  registerLockCommand(program);
  registerBuildCommand(program);
  registerPlanCommand(program);
  registerReconcileCommand(program);
  registerPromoteCommands(program);
  registerOutdatedCommand(program);
  registerHistoryCommand(program);
}
