import { readAptSources } from '../../src/packages/apt/sources.js';

/** Why the real Debian archive cannot be used here, or undefined: its first http source answers for InRelease within a few seconds. */
export async function archiveProblem(): Promise<string | undefined> {
  const sources = await readAptSources('/').catch(() => []);
  const first = sources.find((source) => source.uri.startsWith('http'));
  if (first === undefined) return 'this machine has no http apt source';
  const url = `${first.uri.replace(/\/$/, '')}/dists/${first.suite}/InRelease`;
  try {
    const response = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(8000) });
    return response.ok ? undefined : `${url} answered HTTP ${response.status}`;
  } catch (error) {
    return `${url} is unreachable (${(error as Error).message})`;
  }
}
