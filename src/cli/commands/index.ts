import type { Command } from 'commander';

/** Every command group, registered explicitly (no discovery). */
export function registerCommands(program: Command): void {
  void program;
}
