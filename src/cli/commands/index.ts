import type { Command } from 'commander';
import { registerBuildCommand } from './build.js';
import { registerHistoryCommand } from './history.js';
import { registerKeysCommands } from './keys.js';
import { registerLockCommand } from './lock.js';
import { registerOutdatedCommand } from './outdated.js';
import { registerPlanCommand } from './plan.js';
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
  registerOutdatedCommand(program);
  registerHistoryCommand(program);
}
