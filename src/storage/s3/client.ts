import { S3Client } from '@aws-sdk/client-s3';
import type { S3Connection } from './location.js';

export const DEFAULT_CONCURRENCY = 16;
const DEFAULT_ATTEMPTS = 5;

/**
 * An S3 client for one store. Retries (the SDK's standard mode: exponential backoff with jitter
 * on 5xx, throttling and cut connections) and timeouts are bounded, so a store that stops
 * answering fails the run rather than hanging it. Checksums are sent only where the API requires
 * them: S3-compatible stores differ in what else they accept.
 */
export function createS3Client(connection: S3Connection): S3Client {
  // The SDK warns on Node 20 that its releases after January 2027 need Node 22: the versions in
  // package.json are pinned, and the notice is for the maintainers, not the operator.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: connection.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(connection.endpoint !== undefined && { endpoint: connection.endpoint }),
    forcePathStyle: connection.pathStyle ?? false,
    ...(connection.credentials !== undefined && { credentials: connection.credentials }),
    maxAttempts: connection.maxAttempts ?? attemptsFromEnvironment(),
    retryMode: 'standard',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
      httpAgent: { keepAlive: true, maxSockets: connection.concurrency ?? DEFAULT_CONCURRENCY },
    },
  });
}

/** The SDK's own variable, when set; the SDK would ignore it once maxAttempts is given. */
function attemptsFromEnvironment(): number {
  const value = Number(process.env.AWS_MAX_ATTEMPTS);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_ATTEMPTS;
}
