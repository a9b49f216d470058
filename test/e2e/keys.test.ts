import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

describe('keys', () => {
  it('writes private keys 0600 outside the served directory and never prints them', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'keys.example.org');
    const keys = path.join(base, 'keys');
    const init = ucvm(['keys', 'init', storage, '--keys', keys, '--days', '7', '--json']);
    expect(init.status, init.stderr).toBe(0);
    const result = JSON.parse(init.stdout) as { whitelistExpiresAt: string };
    const days = (Date.parse(result.whitelistExpiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);

    expect(statSync(keys).mode & 0o777).toBe(0o700);
    for (const secret of ['keys.example.org.masterkey', 'keys.example.org.key']) {
      expect(statSync(path.join(keys, secret)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(path.join(keys, 'keys.example.org.pub')).mode & 0o777).toBe(0o644);
    expect(ucvm(['keys', 'init', storage, '--keys', keys]).stderr).toContain('KEY_EXISTS');

    const publish = ucvm(['repo', 'init', storage, '--keys', keys]);
    const secrets = [
      readFileSync(path.join(keys, 'keys.example.org.masterkey'), 'utf8'),
      readFileSync(path.join(keys, 'keys.example.org.key'), 'utf8'),
    ];
    const body = (pem: string): string => pem.split('\n')[1]!;
    for (const output of [init.stdout, init.stderr, publish.stdout, publish.stderr]) {
      for (const secret of secrets) expect(output).not.toContain(body(secret));
    }
    for (const file of allFiles(storage)) {
      const content = readFileSync(file).toString('latin1');
      expect(content).not.toContain('PRIVATE KEY');
      for (const secret of secrets) expect(content).not.toContain(body(secret));
    }

    const resign = ucvm(['keys', 'resign', storage, '--keys', keys, '--days', '60', '--json']);
    expect(resign.status, resign.stderr).toBe(0);
    expect(
      Date.parse((JSON.parse(resign.stdout) as { whitelistExpiresAt: string }).whitelistExpiresAt),
    ).toBeGreaterThan(Date.now() + 59 * 86_400_000);
  });

  it("keys init --force writes through no planted link into another user's file", async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'keys.example.org');
    const keys = path.join(base, 'keys');
    expect(ucvm(['keys', 'init', storage, '--keys', keys]).status).toBe(0);
    const victim = path.join(base, 'victim');
    writeFileSync(victim, "another user's file\n", { mode: 0o644 });
    if (asRoot) chownSync(victim, NOBODY, NOBODY);
    for (const suffix of ['masterkey', 'key', 'pub', 'crt']) {
      const file = path.join(keys, `keys.example.org.${suffix}`);
      rmSync(file);
      symlinkSync(victim, file);
    }
    const init = ucvm(['keys', 'init', storage, '--keys', keys, '--force']);
    expect(init.status, init.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe("another user's file\n");
    if (asRoot) expect(statSync(victim).uid).toBe(NOBODY);
    for (const suffix of ['masterkey', 'key', 'pub', 'crt'])
      expect(lstatSync(path.join(keys, `keys.example.org.${suffix}`)).isFile()).toBe(true);
    const tree = path.join(base, 'tree');
    mkdirSync(tree);
    writeFileSync(path.join(tree, 'a'), 'a\n');
    // The keys written in their place are whole: a repository made and published with them.
    expect(ucvm(['repo', 'init', storage, '--keys', keys]).status).toBe(0);
    const publish = ucvm(['repo', 'publish', storage, tree, '--tag', 'v1', '--keys', keys]);
    expect(publish.status, publish.stderr).toBe(0);
  });

  it('refuses a key directory that is a link, or that belongs to another user', async () => {
    const base = await tmpdir();
    const real = path.join(base, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, path.join(base, 'keys'));
    const storage = path.join(base, 'srv', 'keys.example.org');
    const linked = ucvm(['keys', 'init', storage, '--keys', path.join(base, 'keys')]);
    expect(linked.status).toBe(1);
    expect(linked.stderr).toContain(
      `error KEY_PERMISSIONS: ${path.join(base, 'keys')}: the key directory is a symbolic link`,
    );
    expect(readdirSync(real)).toEqual([]);
    if (!asRoot) return;
    chownSync(real, NOBODY, NOBODY);
    const foreign = ucvm(['keys', 'init', storage, '--keys', real]);
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toContain(`${real}: the key directory belongs to uid ${NOBODY}`);
    expect(readdirSync(real)).toEqual([]);
  });

  it('refuses private keys others can read and a key directory others can write, naming the chmod', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'keys.example.org');
    const keys = path.join(base, 'keys');
    expect(ucvm(['repo', 'init', storage, '--keys', keys]).status).toBe(0);
    const tree = path.join(base, 'tree');
    mkdirSync(tree);
    writeFileSync(path.join(tree, 'a'), 'a\n');
    const masterKey = path.join(keys, 'keys.example.org.masterkey');
    const certificateKey = path.join(keys, 'keys.example.org.key');

    chmodSync(keys, 0o777);
    const open = ucvm(['keys', 'resign', storage, '--keys', keys]);
    expect(open.status).toBe(1);
    expect(open.stderr).toContain(`error KEY_PERMISSIONS: ${keys}: the key directory is mode 0777`);
    expect(open.stderr).toContain(`Run: chmod 700 ${keys}`);
    chmodSync(keys, 0o700);

    chmodSync(masterKey, 0o644);
    const resign = ucvm(['keys', 'resign', storage, '--keys', keys]);
    expect(resign.status).toBe(1);
    expect(resign.stderr).toContain(`${masterKey}: the master key is mode 0644`);
    expect(resign.stderr).toContain(`Run: chmod 600 ${masterKey}`);
    chmodSync(masterKey, 0o600);

    chmodSync(certificateKey, 0o640);
    const publish = ucvm(['repo', 'publish', storage, tree, '--tag', 'v1', '--keys', keys]);
    expect(publish.status).toBe(1);
    expect(publish.stderr).toContain(`${certificateKey}: the repository key is mode 0640`);
    expect(publish.stderr).toContain(`Run: chmod 600 ${certificateKey}`);
    chmodSync(certificateKey, 0o600);

    // Public files 0644, a directory 0755: fine.
    chmodSync(keys, 0o755);
    const fixed = ucvm(['repo', 'publish', storage, tree, '--tag', 'v1', '--keys', keys]);
    expect(fixed.status, fixed.stderr).toBe(0);
  });

  it('reports a corrupt key as KEY_INVALID (exit 1) naming it, without its content', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'keys.example.org');
    const keys = path.join(base, 'keys');
    expect(ucvm(['repo', 'init', storage, '--keys', keys]).status).toBe(0);
    const masterKey = path.join(keys, 'keys.example.org.masterkey');
    const lines = readFileSync(masterKey, 'utf8').split('\n');
    writeFileSync(masterKey, [...lines.slice(0, -4), lines.at(-2), ''].join('\n'));
    const result = ucvm(['--debug', 'keys', 'resign', storage, '--keys', keys]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `error KEY_INVALID: the master key ${masterKey} is not a valid PEM key`,
    );
    expect(result.stderr).not.toContain('internal error');
    for (const line of lines.slice(1, -4)) expect(result.stderr).not.toContain(line);
  });

  it('refuses keys inside the storage (exit 2), creating nothing', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'keys.example.org');
    for (const command of ['repo', 'keys']) {
      const result = ucvm([command, 'init', storage, '--keys', path.join(storage, 'keys')]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(
        `error KEY_LOCATION: the key directory ${path.join(storage, 'keys')} is inside the storage ${storage}`,
      );
      expect(() => statSync(storage)).toThrow();
    }
  });

  it.skipIf(!asRoot)(
    'tells another user who cannot write the key directory why (not a crash)',
    async () => {
      const base = await tmpdir();
      chmodSync(base, 0o755);
      const keys = path.join(base, 'keys');
      mkdirSync(keys, { mode: 0o755 });
      const storage = path.join(base, 'srv', 'keys.example.org');
      const asNobody = { uid: NOBODY, gid: NOBODY, env: { HOME: base } };
      const init = ucvm(['keys', 'init', storage, '--keys', keys], asNobody);
      expect(init.stderr).not.toContain('internal error');
      expect(init.status).toBe(1);
      expect(init.stderr).toContain(
        `error KEY_PERMISSIONS: ${path.join(keys, 'keys.example.org.masterkey')}: no key file can be created in ${keys} (EACCES)`,
      );
      const nested = ucvm(['keys', 'init', storage, '--keys', path.join(keys, 'sub')], asNobody);
      expect(nested.status).toBe(1);
      expect(nested.stderr).toContain(
        `${path.join(keys, 'sub')}: the key directory cannot be created (EACCES)`,
      );
      expect(readdirSync(keys)).toEqual([]);
    },
  );
});
