import path from 'node:path';

/** Command-line and environment options of the benchmark. */
export type TreeKind = 'generated' | 'real';

export interface BenchOptions {
  /** A ~10x smaller generated tree, for smoke testing. */
  quick: boolean;
  /** Which trees to measure. */
  only: readonly TreeKind[];
  /** Real trees to try, in order; the first one the publisher accepts is measured. */
  realTrees: readonly string[];
  /** Where the JSON result file goes. */
  resultsDir: string;
  /** Keep the temporary directories (trees and repositories) for inspection. */
  keep: boolean;
}

/** `bench/results` of the repository (this file runs as dist/bench/options.js). */
const DEFAULT_RESULTS = path.resolve(import.meta.dirname, '../../bench/results');

export const USAGE = `usage: node dist/bench/run.js [--quick] [--only generated|real] [--real-tree DIR]... [--results DIR] [--keep]
env: BENCH_QUICK=1, BENCH_ONLY=generated|real, BENCH_REAL_TREE=DIR[:DIR...], BENCH_RESULTS=DIR, BENCH_KEEP=1`;

function parseOnly(value: string): TreeKind[] {
  if (value === 'generated' || value === 'real') return [value];
  throw new Error(`--only takes generated or real, got ${JSON.stringify(value)}\n${USAGE}`);
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const options: BenchOptions = {
    quick: env.BENCH_QUICK === '1',
    only:
      env.BENCH_ONLY === undefined || env.BENCH_ONLY === ''
        ? ['generated', 'real']
        : parseOnly(env.BENCH_ONLY),
    realTrees: env.BENCH_REAL_TREE ? env.BENCH_REAL_TREE.split(':') : ['/usr/lib', '/usr/share'],
    resultsDir: env.BENCH_RESULTS ?? DEFAULT_RESULTS,
    keep: env.BENCH_KEEP === '1',
  };
  const explicitReal: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return next;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--only') options.only = parseOnly(value());
    else if (arg.startsWith('--only=')) options.only = parseOnly(arg.slice('--only='.length));
    else if (arg === '--real-tree') explicitReal.push(value());
    else if (arg === '--results') options.resultsDir = value();
    else if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  if (explicitReal.length > 0) options.realTrees = explicitReal;
  return options;
}
