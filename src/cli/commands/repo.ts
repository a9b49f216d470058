import type { Command } from 'commander';
import { registerRepoAdminCommands } from './repo-admin.js';
import { registerExportCommand } from './repo-export.js';
import { registerPublishCommand } from './repo-publish.js';
import { registerRepoReadCommands } from './repo-read.js';

export function registerRepoCommands(program: Command): void {
  const repo = program
    .command('repo')
    .description('create, publish, inspect and serve CernVM-FS repositories');
  registerRepoAdminCommands(repo);
  registerPublishCommand(repo);
  registerRepoReadCommands(repo);
  registerExportCommand(repo);
}
