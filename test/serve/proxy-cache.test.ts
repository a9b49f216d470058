import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/cvmfs/manifest.js';
import { serveRepositories, type RunningServer } from '../../src/serve/index.js';
import { makeRepo, type TestRepo } from '../helpers/repo.js';
import { isHit, squidSkipReason, startSquid, type Squid } from '../helpers/squid.js';
import { makeTempDir, removeDir, writeTree } from '../helpers/tmp.js';

const skip = squidSkipReason();
if (skip !== undefined) console.log(`test/serve/proxy-cache: skipped: ${skip}`);

/** A GET through the proxy (absolute-form request target, as a client configured with a proxy sends). */
function viaProxy(
  proxy: Squid,
  url: string,
): Promise<{ status: number; body: Buffer; cacheControl: string }> {
  return new Promise((resolve, reject) => {
    const out = request(
      {
        host: '127.0.0.1',
        port: proxy.port,
        path: url,
        method: 'GET',
        headers: { host: new URL(url).host },
      },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(parts),
            cacheControl: String(response.headers['cache-control'] ?? ''),
          }),
        );
      },
    );
    out.on('error', reject);
    out.end();
  });
}

const MAX_AGE = 3;

describe.skipIf(skip !== undefined)('ucvm repo serve behind a real squid, as a site proxy', () => {
  let base: string;
  let repo: TestRepo;
  let server: RunningServer;
  let squid: Squid;
  const origin: string[] = [];

  beforeAll(async () => {
    base = await makeTempDir('ucvm-proxy-');
    repo = await makeRepo({ base });
    await writeTree(`${base}/tree`, { 'etc/motd': 'first\n', 'usr/lib/big': 'x'.repeat(100_000) });
    await repo.publisher.publish({ tree: `${base}/tree`, tag: 'v1' });
    server = await serveRepositories({
      repositories: new Map([['test.example.org', repo.storage]]),
      mutableMaxAge: MAX_AGE,
      onRequest: (method, path, status) => origin.push(`${method} ${path} ${status}`),
    });
    squid = await startSquid();
  }, 60_000);
  afterAll(async () => {
    await squid?.stop();
    await server?.close();
    await removeDir(base);
  });

  it('serves a second client from its cache: content objects for days, the manifest for its max-age', async () => {
    const manifestUrl = `${server.url}/test.example.org/.cvmfspublished`;
    const first = await viaProxy(squid, manifestUrl);
    expect(first.status).toBe(200);
    expect(first.cacheControl).toBe(`max-age=${MAX_AGE}`);
    const rootCatalog = parseManifest(first.body).manifest.rootCatalog;
    const catalogUrl = `${server.url}/test.example.org/data/${rootCatalog.slice(0, 2)}/${rootCatalog.slice(2)}C`;
    const catalog = await viaProxy(squid, catalogUrl);
    expect(catalog.cacheControl).toBe('max-age=259200');
    const again = await viaProxy(squid, catalogUrl);
    expect(again.body.equals(catalog.body)).toBe(true);
    const manifestAgain = await viaProxy(squid, manifestUrl);
    expect(manifestAgain.body.equals(first.body)).toBe(true);

    const entries = await squid.waitForEntries(4);
    expect(entries.map((entry) => isHit(entry))).toEqual([false, false, true, true]);
    // The origin saw each file once: the second client was served by the proxy.
    expect(origin.filter((line) => line.includes('.cvmfspublished'))).toHaveLength(1);
    expect(origin.filter((line) => line.includes(`${rootCatalog.slice(2)}C`))).toHaveLength(1);
  });

  it("sees a new revision once the manifest's max-age has passed, not before", async () => {
    const manifestUrl = `${server.url}/test.example.org/.cvmfspublished`;
    const before = parseManifest((await viaProxy(squid, manifestUrl)).body).manifest;
    await writeTree(`${base}/tree`, { 'etc/motd': 'second\n' });
    const published = await repo.publisher.publish({ tree: `${base}/tree`, tag: 'v2' });
    expect(published.revision).toBe(before.revision + 1);
    // Still fresh in the proxy: the previous revision.
    const stale = parseManifest((await viaProxy(squid, manifestUrl)).body).manifest;
    expect(stale.revision).toBe(before.revision);
    await new Promise((resolve) => setTimeout(resolve, (MAX_AGE + 1) * 1000));
    const fresh = parseManifest((await viaProxy(squid, manifestUrl)).body).manifest;
    expect(fresh.revision).toBe(published.revision);
  });
});
