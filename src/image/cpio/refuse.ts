import { UcvmError } from '../../errors.js';

/** The one error of an entry the archive cannot hold; the message starts with its path. */
export function refuseEntry(path: string, problem: string, details?: string): UcvmError {
  return new UcvmError('BUILD_FAILED', `initramfs entry ${JSON.stringify(path)}: ${problem}`, {
    where: { path },
    ...(details !== undefined && { details }),
  });
}
