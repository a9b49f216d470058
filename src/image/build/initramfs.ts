import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { compressArchive, writeCpioFile } from '../cpio/index.js';
import type { CompressionFormat, CpioEntry } from '../cpio/index.js';
import {
  CLIENT_PROGRAMS,
  INIT_PROGRAMS,
  busyboxEntries,
  caBundle,
  findProgram,
  moduleEntries,
  programEntries,
  skeletonEntries,
  steeringEntries,
} from '../initramfs/contents.js';
import { initModules } from '../initramfs/modules.js';
import type { KernelTree } from '../initramfs/modules.js';

export interface InitramfsRequest {
  /** The unpacked pinned packages (and client). */
  tree: string;
  kernel: KernelTree;
  extraModules: readonly string[];
  withClient: boolean;
  steeringDir: string;
  /** Further files: configuration, keys, /version. */
  extra: CpioEntry[];
  work: string;
  out: string;
  compression: CompressionFormat;
  sourceDateEpoch: number;
}

export interface InitramfsReport {
  file: string;
  bytes: number;
  uncompressedBytes: number;
  modules: { shipped: number; builtin: string[]; missing: string[] };
  programs: string[];
}

/** The client's FUSE libraries, which cvmfs2 loads by name at mount time (not NEEDED by it). */
const CLIENT_LIBRARIES = [
  'libcvmfs_fuse3_stub.so',
  'libcvmfs_fuse3.so',
  'libcvmfs_fuse_stub.so',
  'libcvmfs_fuse.so',
];

export async function buildInitramfs(request: InitramfsRequest): Promise<InitramfsReport> {
  const { tree } = request;
  const programs: string[] = [];
  for (const name of INIT_PROGRAMS) programs.push(await required(tree, name));
  if (request.withClient) {
    programs.push(await required(tree, CLIENT_PROGRAMS[0]));
    for (const optional of CLIENT_PROGRAMS.slice(1)) {
      const found = await findProgram(tree, optional);
      if (found !== undefined) programs.push(found);
    }
    for (const library of CLIENT_LIBRARIES) {
      for (const dir of ['/usr/lib', '/usr/lib64', '/usr/lib/x86_64-linux-gnu']) {
        if (await exists(path.join(tree, dir, library))) programs.push(`${dir}/${library}`);
      }
    }
  }
  const modules = await initModules(tree, request.kernel, request.extraModules);
  const programFiles = await programEntries(tree, programs);
  const taken = new Set(programFiles.map((entry) => entry.path));
  const entries = dedupe([
    ...skeletonEntries(),
    ...programFiles,
    ...(await busyboxEntries(tree, taken)),
    ...moduleEntries(request.kernel.modulesDir, request.kernel.version, modules.files),
    ...(await caBundle(tree)),
    ...(await steeringEntries(request.steeringDir)),
    ...request.extra,
  ]);
  const cpio = path.join(request.work, 'initramfs.cpio');
  await writeCpioFile(entries, cpio, { sourceDateEpoch: request.sourceDateEpoch });
  await compressArchive(cpio, request.out, request.compression);
  return {
    file: request.out,
    bytes: (await stat(request.out)).size,
    uncompressedBytes: (await stat(cpio)).size,
    modules: { shipped: modules.files.length, builtin: modules.builtin, missing: modules.missing },
    programs,
  };
}

async function required(tree: string, name: string): Promise<string> {
  const found = await findProgram(tree, name);
  if (found === undefined)
    throw new UcvmError('BUILD_FAILED', `no package of the image has the program ${name}`, {
      details: name.startsWith('cvmfs')
        ? 'The CernVM-FS client archive must hold usr/bin/cvmfs2.'
        : 'Add the package that has it to programs in pipeline/image.yaml and run ucvm image lock.',
    });
  return found;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** A directory the skeleton names may also come from the tree: the first entry of a path wins. */
function dedupe(entries: CpioEntry[]): CpioEntry[] {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const key = entry.path.replace(/^\/+/, '');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
