import { UcvmError, isUcvmError } from '../../errors.js';
import { run, type RunResult } from '../../exec/index.js';

/** How ucvm reaches a site's `cvmfs_server` (its documented command line, nothing else). */
export interface ServerCli {
  /** Runs `cvmfs_server <args>`; COMMAND_FAILED with the tail of its output on failure. */
  (args: readonly string[], options?: { okExitCodes?: readonly number[] }): Promise<RunResult>;
}

export function serverCli(binary = 'cvmfs_server', timeoutMs = 3_600_000): ServerCli {
  return async (args, options = {}) => {
    try {
      return await run(binary, args, {
        timeoutMs,
        ...(options.okExitCodes !== undefined && { okExitCodes: options.okExitCodes }),
        // cvmfs_server asks before some actions; never let it wait for a terminal.
        input: '',
      });
    } catch (error) {
      if (isUcvmError(error, 'COMMAND_FAILED') && /command not found/.test(error.message))
        throw new UcvmError('COMMAND_FAILED', `${binary} is not installed here`, {
          details:
            "The cvmfs-server backend drives a site's CernVM-FS server tools (package cvmfs-server); install them on the publishing machine, or set backend: embedded.",
        });
      throw error;
    }
  };
}
