import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SUFFIX = '.lines';

/**
 * The entry lines (`entryLine`) of the catalogs of the last published revision, kept in the
 * spool directory so that the next publish can patch those catalogs instead of writing them
 * afresh. A cache: a missing or damaged file only costs a full catalog write. Each file is
 * named by its catalog's hash and holds the SHA-1 of its JSON body on the first line.
 */
export class CatalogLines {
  constructor(private readonly dir: string) {}

  private file(hashHex: string): string {
    return join(this.dir, `${hashHex}${SUFFIX}`);
  }

  /** The lines of a catalog, or undefined if they are not kept or the file is damaged. */
  async load(hashHex: string): Promise<string[] | undefined> {
    let data: string;
    try {
      data = await readFile(this.file(hashHex), 'utf8');
    } catch {
      return undefined;
    }
    const newline = data.indexOf('\n');
    const body = data.slice(newline + 1);
    if (newline !== 40 || createHash('sha1').update(body).digest('hex') !== data.slice(0, 40))
      return undefined;
    const lines: unknown = JSON.parse(body);
    return Array.isArray(lines) && lines.every((line) => typeof line === 'string')
      ? lines
      : undefined;
  }

  /** Keeps the lines of `current` catalogs (those given in `written` are stored), drops the rest. */
  async keepOnly(
    current: ReadonlySet<string>,
    written: ReadonlyMap<string, readonly string[]>,
  ): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const [hashHex, lines] of written) {
      if (!current.has(hashHex)) continue;
      const body = JSON.stringify(lines);
      const digest = createHash('sha1').update(body).digest('hex');
      const temp = join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`);
      await writeFile(temp, `${digest}\n${body}`);
      await rename(temp, this.file(hashHex));
    }
    for (const name of await readdir(this.dir)) {
      const hashHex = name.endsWith(SUFFIX) ? name.slice(0, -SUFFIX.length) : undefined;
      if (hashHex === undefined || !current.has(hashHex))
        await rm(join(this.dir, name), { force: true });
    }
  }
}
