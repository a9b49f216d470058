import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { UcvmError } from '../errors.js';

/** How long a request may take; every limit fails the request with HTTP_FAILED naming it. */
export interface HttpTimeouts {
  /** Until the TCP connection is established. */
  connectMs: number;
  /** Without a byte from the server while one is awaited (response headers, body). */
  idleMs: number;
  /** For the whole request, headers and body. */
  totalMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  connectMs: 10_000,
  idleMs: 30_000,
  totalMs: 600_000,
};

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 16 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 16 }),
};

const timeoutText: Record<keyof HttpTimeouts, string> = {
  connectMs: 'no connection',
  idleMs: 'no data from the server',
  totalMs: 'the request did not complete',
};

const timeoutName: Record<keyof HttpTimeouts, string> = {
  connectMs: 'connect timeout',
  idleMs: 'idle timeout',
  totalMs: 'total timeout',
};

function failed(url: string, message: string, details?: string, cause?: unknown): UcvmError {
  return new UcvmError('HTTP_FAILED', `${url}: ${message}`, {
    ...(details !== undefined && { details }),
    ...(cause !== undefined && { cause }),
  });
}

/** Whether `url` exists (a HEAD request: 200 yes, 404 no, anything else HTTP_FAILED). */
export async function httpExists(url: string, timeouts?: Partial<HttpTimeouts>): Promise<boolean> {
  const body = await httpBody(url, {
    maxBytes: 0,
    method: 'HEAD',
    ...(timeouts !== undefined && { timeouts }),
  });
  return body !== undefined;
}

/**
 * GETs `url` and returns its body as it arrives (undefined for 404). Fails with HTTP_FAILED on
 * any other status (redirects included), on a Content-Length or a body over `maxBytes`, on a
 * truncated body, and when a timeout expires.
 */
export async function httpBody(
  url: string,
  options: { maxBytes: number; timeouts?: Partial<HttpTimeouts>; method?: 'GET' | 'HEAD' },
): Promise<AsyncIterable<Buffer> | undefined> {
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...options.timeouts };
  const parsed = new URL(url);
  const protocol = parsed.protocol === 'https:' ? 'https:' : 'http:';
  const request = (protocol === 'https:' ? https : http).request(parsed, {
    method: options.method ?? 'GET',
    agent: agents[protocol],
    headers: { 'accept-encoding': 'identity' },
  });
  request.end();
  let failure: UcvmError | undefined;
  const stop = (error: UcvmError): void => {
    failure ??= error;
    request.destroy(error);
  };
  const timer = (which: keyof HttpTimeouts): NodeJS.Timeout => {
    const handle = setTimeout(
      () =>
        stop(
          failed(
            url,
            `${timeoutText[which]} within ${timeouts[which] / 1000} s (${timeoutName[which]})`,
            which === 'totalMs'
              ? 'The server is too slow for an object this size, or never finishes sending it.'
              : 'The server accepted the request but stopped answering. Pass --timeout <seconds> for a slower server.',
          ),
        ),
      timeouts[which],
    );
    handle.unref();
    return handle;
  };
  const total = timer('totalMs');
  let connect: NodeJS.Timeout | undefined = timer('connectMs');
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = timer('idleMs');
  };
  const disarmIdle = (): void => clearTimeout(idle);
  const connected = (): void => {
    clearTimeout(connect);
    connect = undefined;
    armIdle();
  };
  const cleanup = (): void => {
    clearTimeout(total);
    clearTimeout(connect);
    disarmIdle();
  };
  request.on('socket', (socket) => {
    if (socket.connecting) socket.once('connect', connected);
    else connected();
  });

  let response: IncomingMessage;
  try {
    response = await new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
  } catch (error) {
    cleanup();
    throw failure ?? failed(url, 'cannot fetch', String((error as Error).message ?? error), error);
  }
  // Later errors surface through the body; without listeners they would crash the process.
  request.on('error', () => {});
  response.on('error', () => {});
  disarmIdle();

  const status = response.statusCode ?? 0;
  if (status === 404 || status < 200 || status >= 300) {
    response.resume();
    cleanup();
    if (status === 404) return undefined;
    throw failed(
      url,
      `HTTP ${status}`,
      status >= 300 && status < 400
        ? `Redirects are refused (to ${response.headers.location ?? 'nowhere'}); use the final URL.`
        : undefined,
    );
  }
  if (options.method === 'HEAD') {
    response.resume();
    cleanup();
    return (async function* nothing(): AsyncGenerator<Buffer> {})();
  }
  const lengthHeader = response.headers['content-length'];
  const declared = lengthHeader === undefined ? undefined : Number(lengthHeader);
  if (declared !== undefined && declared > options.maxBytes) {
    cleanup();
    request.destroy();
    throw failed(
      url,
      `Content-Length ${declared} is more than the ${options.maxBytes} bytes allowed for this file`,
      'Nothing of it was read.',
    );
  }

  return (async function* body(): AsyncGenerator<Buffer> {
    let received = 0;
    const iterator = response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      for (;;) {
        armIdle();
        let next: IteratorResult<Buffer>;
        try {
          next = await iterator.next();
        } catch (error) {
          throw (
            failure ?? failed(url, 'the connection failed while reading the body', undefined, error)
          );
        }
        disarmIdle();
        if (failure !== undefined) throw failure;
        if (next.done === true) break;
        received += next.value.length;
        if (received > options.maxBytes) {
          const error = failed(
            url,
            `the body is longer than the ${options.maxBytes} bytes allowed for this file; aborted`,
          );
          stop(error);
          throw failure ?? error;
        }
        yield next.value;
      }
      if (!response.complete || (declared !== undefined && received !== declared))
        throw failed(
          url,
          `the body ended after ${received} bytes${declared === undefined ? '' : ` of ${declared}`}`,
        );
    } finally {
      cleanup();
      if (!response.complete) request.destroy();
    }
  })();
}
