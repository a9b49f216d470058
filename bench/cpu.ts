import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * How busy the machine was while a step ran: other people's work on a 2-core machine
 * distorts every figure, so each measurement says how many cores it used itself and how
 * many the rest of the machine used meanwhile.
 */
export interface CpuShare {
  /** CPU seconds of the measured work (this process, or the reference's child processes). */
  cpuSeconds: number;
  /** cpuSeconds / wall seconds: how many cores the work kept busy on average. */
  cores: number;
  /** All busy cores of the machine during the step (from /proc/stat). */
  machineBusyCores: number;
  /** machineBusyCores - cores: other processes competing for the CPUs. */
  otherCores: number;
  /** One-minute load average at the end. */
  loadAverage: number;
}

interface Ticks {
  busy: number;
  total: number;
}

function readTicks(): Ticks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = values.reduce((sum, value) => sum + value, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export interface CpuMeter {
  /** Ends the measurement; `cpuSeconds` of the work if it ran elsewhere (child processes). */
  stop(seconds: number, childCpuSeconds?: number): CpuShare;
}

export function startCpuMeter(): CpuMeter {
  const ticks = readTicks();
  const own = process.cpuUsage();
  return {
    stop(seconds, childCpuSeconds) {
      const after = readTicks();
      const usage = process.cpuUsage(own);
      const cpuSeconds = childCpuSeconds ?? (usage.user + usage.system) / 1e6;
      const cores = cpuSeconds / seconds;
      const nproc = os.availableParallelism();
      const machineBusyCores =
        ticks !== undefined && after !== undefined && after.total > ticks.total
          ? ((after.busy - ticks.busy) / (after.total - ticks.total)) * nproc
          : Number.NaN;
      return {
        cpuSeconds,
        cores,
        machineBusyCores,
        otherCores: Math.max(0, machineBusyCores - cores),
        loadAverage: os.loadavg()[0]!,
      };
    },
  };
}
