import type { Command } from 'commander';
import { registerBuildCommand } from './build.js';
import { registerKeysCommands } from './keys.js';
import { registerRepoCommands } from './repo.js';
import { registerValidateCommand } from './validate.js';

/** Every command group, registered explicitly (no discovery). */
export function registerCommands(program: Command): void {
  registerKeysCommands(program);
  registerRepoCommands(program);
  registerValidateCommand(program);
  registerBuildCommand(program);
}
