import { startCpuMeter, type CpuShare } from './cpu.js';
import { shellQuote, timeShell } from './shell.js';

/** The machine's own single-pass cost of the same bytes: one core, standard tools. */
export interface Reference {
  /** `cat` of every file to /dev/null (warm cache): the cost of reading alone. */
  readSeconds: number;
  sha1Seconds: number;
  gzipSeconds: number;
  /** sha1 + gzip: the physical reference the publish is compared with. */
  seconds: number;
  mbPerSecond: number;
  filesPerSecond: number;
  cpu: { sha1: CpuShare; gzip: CpuShare };
  commands: { read: string; sha1: string; gzip: string };
}

/** Pipes the same bytes through `cat`, `sha1sum` and `gzip -6`, in that order. */
export function referenceCommands(listFile: string): Reference['commands'] {
  const cat = `xargs -0 -a ${shellQuote(listFile)} cat --`;
  return {
    read: `${cat} > /dev/null`,
    sha1: `${cat} | sha1sum > /dev/null`,
    gzip: `${cat} | gzip -6 > /dev/null`,
  };
}

/** Reads the files once so that what follows sees a warm page cache; returns the seconds. */
export async function warmCache(listFile: string): Promise<number> {
  return (await timeShell(referenceCommands(listFile).read)).seconds;
}

async function timed(command: string): Promise<{ seconds: number; cpu: CpuShare }> {
  const meter = startCpuMeter();
  const { seconds, childCpuSeconds } = await timeShell(command);
  return { seconds, cpu: meter.stop(seconds, childCpuSeconds) };
}

export async function measureReference(
  listFile: string,
  files: number,
  bytes: number,
): Promise<Reference> {
  const commands = referenceCommands(listFile);
  await warmCache(listFile);
  const read = await timed(commands.read);
  const sha1 = await timed(commands.sha1);
  const gzip = await timed(commands.gzip);
  const seconds = sha1.seconds + gzip.seconds;
  return {
    readSeconds: read.seconds,
    sha1Seconds: sha1.seconds,
    gzipSeconds: gzip.seconds,
    seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    filesPerSecond: files / seconds,
    cpu: { sha1: sha1.cpu, gzip: gzip.cpu },
    commands,
  };
}
