import { describe, expect, it } from 'vitest';
import { startUcvm } from '../helpers/cli.js';
import { silentServer } from '../helpers/http-server.js';
import { makeRepo } from '../helpers/repo.js';

describe('read commands against a server that never answers', () => {
  it.each([['tags'], ['ls'], ['verify']])('repo %s gives up after --timeout', async (command) => {
    const repo = await makeRepo();
    const url = `${await silentServer()}/cvmfs/test.example.org`;
    const result = await startUcvm(['repo', command, url, '--keys', repo.keys, '--timeout', '0.5'])
      .done;
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`error HTTP_FAILED: ${url}/.cvmfspublished`);
    expect(result.stderr).toContain('(idle timeout)');
  });

  it('refuses a timeout that is not a positive number', async () => {
    const result = await startUcvm([
      'repo',
      'tags',
      'http://127.0.0.1:9/x.example.org',
      '--timeout',
      'soon',
    ]).done;
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--timeout must be a positive number of seconds');
  });
});
