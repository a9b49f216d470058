import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { nativeDirectoryLister } from '../src/publisher/embedded/directory-listing.js';

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryMB: number;
  node: string;
  platform: string;
  kernel: string;
  /** The libuv thread pool runs zlib compression; its size bounds the parallel compressions. */
  uvThreadpoolSize: number;
  /** How the publisher's scan reads directories: the native addon, or node:fs where it is not built. */
  scanLister: 'native' | 'node:fs';
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    nproc: os.availableParallelism(),
    cpuModel: model.trim(),
    memoryMB: Math.round(os.totalmem() / 1e6),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    scanLister: nativeDirectoryLister === undefined ? 'node:fs' : 'native',
  };
}
