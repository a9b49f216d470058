import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { GOALS } from './goals.js';
import { describeMachine } from './machine.js';
import { measureTree, preflight, type Refusal, type TreeResult } from './measure.js';
import { parseOptions, type BenchOptions } from './options.js';
import { summarize, toJson } from './report.js';
import { openServerReference, skippedServer, type ServerReference } from './server-reference.js';
import { say } from './shell.js';
import { changeFiles, FULL_SHAPE, generateTree, QUICK_SHAPE } from './trees.js';

const CHANGE_SHARE = 0.01;

async function benchGenerated(
  options: BenchOptions,
  base: string,
  server: ServerReference,
): Promise<{ result: TreeResult; generation: Record<string, unknown> }> {
  const shape = options.quick ? QUICK_SHAPE : FULL_SHAPE;
  const root = join(base, 'generated', 'tree');
  say(`generating the ${options.quick ? 'quick' : 'full'} tree under ${root}`);
  const tree = await generateTree(root, shape);
  say(
    `generated ${tree.files.length} files, ${tree.symlinks} symlinks, ${tree.directories} directories in ${tree.seconds.toFixed(1)} s`,
  );
  const result = await measureTree(
    'generated',
    root,
    join(base, 'generated'),
    (round) => changeFiles(tree, CHANGE_SHARE, round),
    server,
  );
  return {
    result,
    generation: { shape: options.quick ? 'quick' : 'full', seconds: tree.seconds, pool: tree.pool },
  };
}

async function benchReal(
  options: BenchOptions,
  base: string,
): Promise<{ result: TreeResult | undefined; refused: Refusal[] }> {
  const refused: Refusal[] = [];
  for (const tree of options.realTrees) {
    say(`checking that the publisher accepts ${tree}`);
    const refusal = await preflight(resolve(tree));
    if (refusal !== undefined) {
      say(`${tree} refused: ${refusal.message}`);
      refused.push(refusal);
      continue;
    }
    const result = await measureTree(
      'real',
      resolve(tree),
      join(base, 'real'),
      'the system tree is not modified (no copy made, to stay within the time budget)',
      skippedServer(
        'cvmfs_server is timed on the generated tree only (a copy of the system tree into a transaction would double the run)',
      ),
    );
    return { result, refused };
  }
  return { result: undefined, refused };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const startedAt = new Date();
  const base = await mkdtemp(join(os.tmpdir(), 'ucvm-bench-'));
  const trees: TreeResult[] = [];
  const notes: Record<string, unknown> = {};
  const server = openServerReference();
  try {
    if (options.only.includes('generated')) {
      const { result, generation } = await benchGenerated(options, base, server);
      trees.push(result);
      notes.generated = generation;
    }
    if (options.only.includes('real')) {
      const { result, refused } = await benchReal(options, base);
      if (result !== undefined) trees.push(result);
      notes.real = { tried: options.realTrees, used: result?.tree ?? null, refused };
    }
  } finally {
    server.remove();
    if (options.keep) say(`kept ${base}`);
    else await rm(base, { recursive: true, force: true });
  }
  const report = toJson({
    startedAt,
    options,
    machine: await describeMachine(),
    goals: GOALS,
    trees,
    notes,
  });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  await mkdir(options.resultsDir, { recursive: true });
  const file = join(
    options.resultsDir,
    `publish-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`,
  );
  await writeFile(file, text);
  process.stdout.write(text);
  process.stderr.write(summarize(report));
  say(`wrote ${file}`);
  // Missing a goal is a result; failing to measure is an error.
  if (trees.some((tree) => tree.error !== undefined) || trees.length === 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
