import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countHits,
  isHit,
  parseAccessLog,
  squidSkipReason,
  startSquid,
  type Squid,
} from '../helpers/squid.js';

const skipReason = squidSkipReason();
if (skipReason !== undefined) console.log(`test/boot-harness/squid: ${skipReason}`);

/** GET `url` through the proxy: an absolute-URI request line, as a proxy client sends. */
function getThroughProxy(
  proxy: Squid,
  url: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: proxy.port, method: 'GET', path: url, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('parseAccessLog', () => {
  it('reads squid native log lines and tells hits from misses', () => {
    const log = [
      '1796309262.805      4 127.0.0.1 TCP_MISS/200 344 GET http://127.0.0.1:8099/hello - HIER_DIRECT/127.0.0.1 application/octet-stream',
      '1796309262.818      1 127.0.0.1 TCP_MEM_HIT/200 350 GET http://127.0.0.1:8099/hello - HIER_NONE/- application/octet-stream',
      '1796309262.828      1 127.0.0.1 TCP_REFRESH_UNMODIFIED/200 350 GET http://127.0.0.1:8099/hello - HIER_DIRECT/127.0.0.1 -',
      '1796309262.900      0 127.0.0.1 TCP_HIT_ABORTED/200 10 GET http://127.0.0.1:8099/big - HIER_NONE/- -',
      'not a log line',
      '',
    ].join('\n');
    const entries = parseAccessLog(log);
    expect(entries.map((entry) => [entry.status, entry.httpStatus, entry.bytes])).toEqual([
      ['TCP_MISS', 200, 344],
      ['TCP_MEM_HIT', 200, 350],
      ['TCP_REFRESH_UNMODIFIED', 200, 350],
      ['TCP_HIT_ABORTED', 200, 10],
    ]);
    expect(entries[0]).toMatchObject({
      url: 'http://127.0.0.1:8099/hello',
      method: 'GET',
      hierarchy: 'HIER_DIRECT/127.0.0.1',
    });
    expect(entries.map(isHit)).toEqual([false, true, false, false]);
    expect(countHits(log)).toEqual({ hits: 1, misses: 3, total: 4 });
  });
});

it('gives a reason to skip when squid is not installed', () => {
  expect(squidSkipReason('/nonexistent/squid')).toMatch(
    /squid is not installed.*skipped, not passed/,
  );
});

describe.skipIf(skipReason !== undefined)(
  `a real squid caches for tests${skipReason === undefined ? '' : ` (${skipReason})`}`,
  () => {
    let squid: Squid;
    let origin: Server;
    let originUrl: string;
    const originRequests: string[] = [];
    const body = Buffer.alloc(3 << 20, 'content-addressed object\n');
    const hash = createHash('sha1').update(body).digest('hex');

    beforeAll(async () => {
      origin = createServer((req, res) => {
        originRequests.push(req.url ?? '');
        if (req.url === `/data/${hash.slice(0, 2)}/${hash.slice(2)}`) {
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'content-length': body.length,
            'cache-control': 'public, max-age=259200',
          });
          res.end(body);
        } else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
      originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
      squid = await startSquid();
    });

    afterAll(async () => {
      await squid?.stop();
      origin?.closeAllConnections();
      await new Promise<void>((resolve) => (origin ? origin.close(() => resolve()) : resolve()));
    });

    it('serves the second GET of a cacheable object from its cache; the origin sees one request', async () => {
      const url = `${originUrl}/data/${hash.slice(0, 2)}/${hash.slice(2)}`;
      const first = await getThroughProxy(squid, url);
      const second = await getThroughProxy(squid, url);
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(first.body.equals(body)).toBe(true);
      expect(second.body.equals(body)).toBe(true);

      const entries = await squid.waitForEntries(2);
      expect(
        entries.map((entry) => entry.status),
        squid.accessLog(),
      ).toEqual(['TCP_MISS', 'TCP_MEM_HIT']);
      expect(entries.every((entry) => entry.url === url)).toBe(true);
      expect(entries[1]!.bytes).toBeGreaterThan(body.length);
      expect(countHits(entries)).toEqual({ hits: 1, misses: 1, total: 2 });
      expect(originRequests).toEqual([`/data/${hash.slice(0, 2)}/${hash.slice(2)}`]);
    });

    it('listens on 127.0.0.1 at the port it reports', () => {
      expect(squid.url).toBe(`http://127.0.0.1:${squid.port}`);
      expect(squid.cacheLog()).toContain(`Accepting HTTP Socket connections`);
      expect(squid.cacheLog()).toContain(`127.0.0.1:${squid.port}`);
    });
  },
);
