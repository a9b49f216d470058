/**
 * One timed publish in a process of its own, so that its peak memory is its own:
 * `node publish-child.js '<json PublishJob>'` prints the Timing as JSON on stdout.
 */
import { isUcvmError } from '../src/errors.js';
import { STALLED_EXIT, timePublishHere, type PublishJob } from './publish.js';
import { StallError } from './stall.js';

const job = JSON.parse(process.argv[2]!) as PublishJob;
timePublishHere(job).then(
  (timing) => process.stdout.write(JSON.stringify(timing)),
  (error: unknown) => {
    process.stderr.write(
      isUcvmError(error)
        ? `${error.code}: ${error.message}${error.details ? `\n${error.details}` : ''}\n`
        : `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = error instanceof StallError ? STALLED_EXIT : 1;
  },
);
