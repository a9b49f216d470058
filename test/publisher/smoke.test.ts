import { describe, expect, it } from 'vitest';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { makeRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';

describe('embedded publisher smoke', () => {
  it('publishes a small tree and reads it back', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({
      'etc/motd': 'hello\n',
      'usr/bin/tool': 'x'.repeat(1000),
      empty: '',
    });
    const result = await repo.publisher.publish({ tree, tag: 'v1' });
    expect(result.revision).toBe(2);
    const repository = await Repository.open(directorySource(repo.storage));
    const snapshot = await repository.snapshot('v1');
    expect((await snapshot.readFile('/etc/motd')).toString()).toBe('hello\n');
    expect((await snapshot.list('/')).map((e) => e.path)).toEqual(['/empty', '/etc', '/usr']);
    expect((await repository.tags()).map((t) => t.name).sort()).toEqual([
      'trunk',
      'trunk-previous',
      'v1',
    ]);
    repository.close();
  });
});
