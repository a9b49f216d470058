import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

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
});
