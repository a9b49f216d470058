import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/image/steering of this package, whether running from src (tests) or from dist. */
export function steeringDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the ucvm package root');
    dir = parent;
  }
  return path.join(dir, 'src', 'image', 'steering');
}
