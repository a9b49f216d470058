// Builds the native file-system addon (native/*.c: the directory lister, extended attributes,
// object writes, syncfs) into dist/native/, against the Node-API headers of the node-api-headers
// package: the addon then loads in any Node >= 20 without node-gyp or Node's own headers.
// Without a C compiler it is left out, and the publisher does the same work through node:fs,
// getfattr and sync (slower, same result). A compiler that fails on the source fails the build.
import { execFileSync } from 'node:child_process';
import { env, stderr } from 'node:process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiler = env.CC ?? 'cc';
const sources = readdirSync(join(root, 'native'))
  .filter((name) => name.endsWith('.c'))
  .sort()
  .map((name) => join(root, 'native', name));
const output = join(root, 'dist', 'native', 'file-system.node');

function found(command) {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!found(compiler)) {
  stderr.write(
    `build-native: no C compiler (${compiler}); the publisher uses node:fs, getfattr and sync\n`,
  );
} else {
  const headers = join(
    dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')),
    'include',
  );
  mkdirSync(dirname(output), { recursive: true });
  execFileSync(
    compiler,
    [
      '-O2',
      '-std=gnu11',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-fPIC',
      '-shared',
      '-DNAPI_VERSION=8',
      `-I${headers}`,
      ...sources,
      '-o',
      output,
    ],
    { stdio: 'inherit' },
  );
}
