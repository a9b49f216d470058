#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { reportFailure } from './output.js';

const program = new Command();
program
  .name('ucvm')
  .description('A GitOps release pipeline for an OS booted on demand from CernVM-FS')
  .version('0.1.0')
  .option('--debug', 'show the cause chain of errors')
  .showHelpAfterError()
  // Global options (--version, --debug) go before the command, so that a command's own
  // `--version <version>` (promote) is its own.
  .enablePositionalOptions()
  .exitOverride();

await registerCommands(program, process.argv.slice(2));

// A reader that closes early (`ucvm … | head`) is not an error of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportFailure(error, program.opts<{ debug?: boolean }>().debug === true);
  }
}
