import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';

/** Files to create: relative path → content. */
export type Tree = Record<string, string | Buffer>;

/** Creates `tree` under `dir` (parent folders included). */
export async function writeTree(dir: string, tree: Tree): Promise<void> {
  for (const [relative, content] of Object.entries(tree)) {
    const file = path.join(dir, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

/** A fresh temp directory that lives outside any test (call `removeDir` yourself, e.g. in afterAll). */
export async function makeTempDir(prefix = 'ucvm-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A fresh temp directory holding `tree`, removed when the current test finishes. Call inside a test. */
export async function tmpdir(tree: Tree = {}): Promise<string> {
  const dir = await makeTempDir();
  onTestFinished(() => removeDir(dir));
  await writeTree(dir, tree);
  return dir;
}
