import { UcvmError } from '../../errors.js';

/** The name modprobe knows a module by: its file name without `.ko[.xz|.zst|.gz]`, `-` as `_`. */
export function moduleName(file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1);
  return base.replace(/\.ko(?:\.(?:xz|zst|gz))?$/, '').replaceAll('-', '_');
}

/** `modules.dep`: each module's path (relative to /lib/modules/<version>) and its dependencies. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const modules = new Map<string, string[]>();
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0)
      throw new UcvmError('BUILD_FAILED', `modules.dep line ${index + 1} is not "module: deps"`);
    modules.set(
      line.slice(0, colon).trim(),
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  return modules;
}

/** `modules.builtin`: names of the modules compiled into the kernel (nothing to load). */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map(moduleName),
  );
}

export interface ModuleClosure {
  /** Module files to ship, in an order they can be loaded (dependencies first). */
  files: string[];
  /** Names asked for that are built into the kernel. */
  builtin: string[];
  /** Names asked for that the kernel has neither as a module nor built in. */
  missing: string[];
}

/** The modules `names` need with everything they depend on, from modules.dep. */
export function moduleClosure(
  dep: ReadonlyMap<string, readonly string[]>,
  builtin: ReadonlySet<string>,
  names: readonly string[],
): ModuleClosure {
  const byName = new Map([...dep.keys()].map((file) => [moduleName(file), file]));
  const result: ModuleClosure = { files: [], builtin: [], missing: [] };
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (file: string): void => {
    if (done.has(file)) return;
    if (visiting.has(file))
      throw new UcvmError('BUILD_FAILED', `modules.dep has a dependency cycle through ${file}`);
    visiting.add(file);
    for (const needed of dep.get(file) ?? []) {
      if (!dep.has(needed))
        throw new UcvmError(
          'BUILD_FAILED',
          `${file} depends on ${needed}, which modules.dep lacks`,
        );
      visit(needed);
    }
    visiting.delete(file);
    done.add(file);
    result.files.push(file);
  };
  for (const wanted of names) {
    const name = moduleName(wanted);
    const file = byName.get(name);
    if (file !== undefined) visit(file);
    else if (builtin.has(name)) result.builtin.push(name);
    else result.missing.push(name);
  }
  return result;
}
