import { describe, expect, it, onTestFinished } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import { createAptSource } from '../../../src/packages/apt/index.js';
import { buildAptRepo, signingKeys, sourceFor } from '../../helpers/apt-repo.js';
import { serveDirectory } from '../../helpers/http-server.js';
import { tmpdir } from '../../helpers/tmp.js';

async function servedRepo() {
  const repo = await buildAptRepo({ packages: [{ name: 'tool', version: '1.0' }] });
  const server = await serveDirectory(repo.dir);
  onTestFinished(() => server.close());
  return sourceFor(repo, server.url);
}

describe('Signed-By variants', () => {
  it('accepts an inline armored key', async () => {
    const { trusted } = await signingKeys();
    const source = {
      ...(await servedRepo()),
      signedBy: { keyrings: [], fingerprints: [], inlineKey: trusted.armored },
    };
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    expect((await apt.index()).find('tool', '1.0')?.name).toBe('tool');
  });

  it('uses the root dir default keyrings (armored .asc) and checks fingerprints', async () => {
    const { trusted, other } = await signingKeys();
    const rootDir = await tmpdir({ 'etc/apt/trusted.gpg.d/test.asc': trusted.armored });
    const served = await servedRepo();
    const good = { ...served, signedBy: { keyrings: [], fingerprints: [trusted.fingerprint] } };
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [good],
      rootDir,
    });
    expect((await apt.index()).find('tool', '1.0')?.name).toBe('tool');

    const wrong = { ...served, signedBy: { keyrings: [], fingerprints: [other.fingerprint] } };
    const strict = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [wrong],
      rootDir,
    });
    const error: unknown = await strict.index().catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'RELEASE_SIGNATURE')).toBe(true);
  });

  it('reports a missing keyring as KEY_MISSING', async () => {
    const source = {
      ...(await servedRepo()),
      signedBy: { keyrings: ['/nonexistent/keyring.gpg'], fingerprints: [] },
    };
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    const error: unknown = await apt.index().catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'KEY_MISSING')).toBe(true);
  });
});
