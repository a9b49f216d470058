import { chmodSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError, type ErrorCode } from '../../src/errors.js';
import { loadPublicKey } from '../../src/keys/index.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { makeRepo, type TestRepo } from '../helpers/repo.js';
import {
  copyObjects,
  flipSignatureByte,
  manifestLine,
  setManifestLine,
} from '../helpers/tamper.js';
import { tmpdir } from '../helpers/tmp.js';

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a refusal, but it succeeded');
    },
    (error: unknown) => error,
  );
}

async function expectRefused(promise: Promise<unknown>, code: ErrorCode = 'BASE_UNVERIFIED') {
  const error = await failure(promise);
  expect(isUcvmError(error) ? error.code : error).toBe(code);
  return error as Error & { details?: string };
}

/** Our repository with one published version, and an attacker's repository of the same name. */
async function victimAndAttacker(): Promise<{ victim: TestRepo; attacker: TestRepo }> {
  const victim = await makeRepo();
  await victim.publisher.publish({ tree: await tmpdir({ 'etc/motd': 'ours\n' }), tag: 'v1' });
  const attacker = await makeRepo({ base: await tmpdir() });
  const evil = await tmpdir({ backdoor: '#!/bin/sh\nexec /bin/sh\n' });
  chmodSync(path.join(evil, 'backdoor'), 0o4755);
  await attacker.publisher.publish({ tree: evil, tag: 'cernvm-system-9.9.9' });
  await attacker.publisher.tag({ name: 'HEAD', target: 'cernvm-system-9.9.9' });
  copyObjects(attacker.storage, victim.storage);
  return { victim, attacker };
}

async function verifyProblems(repo: TestRepo): Promise<string[]> {
  const repository = await Repository.open(directorySource(repo.storage));
  try {
    const report = await verifyRepository(repository, {
      masterKeys: [await loadPublicKey(path.join(repo.keys, 'test.example.org.pub'))],
      now: new Date(),
      fqrn: 'test.example.org',
    });
    return report.problems;
  } finally {
    repository.close();
  }
}

function manifestBytes(repo: TestRepo): Buffer {
  return readFileSync(path.join(repo.storage, '.cvmfspublished'));
}

describe('every write verifies the revision it builds on', () => {
  it('refuses to publish on a manifest whose signature was altered', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ a: '1' });
    await repo.publisher.publish({ tree, tag: 'v1' });
    flipSignatureByte(path.join(repo.storage, '.cvmfspublished'));
    const before = manifestBytes(repo);
    const error = await expectRefused(repo.publisher.publish({ tree, tag: 'v2' }));
    expect(error.details).toMatch(/manifest signature does not verify/);
    expect(manifestBytes(repo)).toEqual(before);
    expect(await verifyProblems(repo)).toContain(
      'manifest signature does not verify with the repository certificate',
    );
  });

  it('refuses to re-sign a planted root catalog when moving a tag', async () => {
    const { victim, attacker } = await victimAndAttacker();
    setManifestLine(victim.storage, 'C', manifestLine(attacker.storage, 'C'));
    const before = manifestBytes(victim);
    await expectRefused(victim.publisher.tag({ name: 'HEAD', target: 'v1' }));
    await expectRefused(victim.publisher.tag({ name: 'v4', target: 'trunk' }));
    expect(manifestBytes(victim)).toEqual(before);
  });

  it('refuses a planted history (tags leading to a planted catalog)', async () => {
    const { victim, attacker } = await victimAndAttacker();
    setManifestLine(victim.storage, 'H', manifestLine(attacker.storage, 'H'));
    const before = manifestBytes(victim);
    const tree = await tmpdir({ 'etc/motd': 'ours, v5\n' });
    await expectRefused(victim.publisher.publish({ tree, tag: 'v5' }));
    await expectRefused(victim.publisher.removeTag('v1'));
    await expectRefused(victim.publisher.gc({ apply: true }));
    expect(manifestBytes(victim)).toEqual(before);
    expect(await verifyProblems(victim)).not.toEqual([]);
  });

  it("refuses a manifest signed with someone else's certificate, and their whitelist", async () => {
    const { victim, attacker } = await victimAndAttacker();
    copyFileSync(
      path.join(attacker.storage, '.cvmfspublished'),
      path.join(victim.storage, '.cvmfspublished'),
    );
    const tree = await tmpdir({ 'etc/motd': 'ours, v5\n' });
    let error = await expectRefused(victim.publisher.publish({ tree, tag: 'v5' }));
    expect(error.details).toMatch(/the certificate is not on the whitelist/);
    copyFileSync(
      path.join(attacker.storage, '.cvmfswhitelist'),
      path.join(victim.storage, '.cvmfswhitelist'),
    );
    error = await expectRefused(victim.publisher.publish({ tree, tag: 'v5' }));
    expect(error.details).toMatch(/whitelist signature does not verify with the master public key/);
    // A renewal of the whitelist must not make the forged revision acceptable either.
    error = await expectRefused(victim.publisher.resign(30));
    expect(error.details).toMatch(/not signed with this repository's certificate/);
    expect(readFileSync(path.join(victim.storage, '.cvmfswhitelist'))).toEqual(
      readFileSync(path.join(attacker.storage, '.cvmfswhitelist')),
    );
  });

  it('refuses to publish over a whitelist whose signature was altered', async () => {
    const repo = await makeRepo();
    flipSignatureByte(path.join(repo.storage, '.cvmfswhitelist'));
    const error = await expectRefused(
      repo.publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' }),
    );
    expect(error.details).toMatch(/whitelist signature does not verify/);
    // Renewing it with the master key repairs it: the manifest is still ours.
    await repo.publisher.resign(30);
    await repo.publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' });
    expect(await verifyProblems(repo)).toEqual([]);
  });

  it('refuses a repository of another name stored under this one', async () => {
    const repo = await makeRepo();
    const other = await makeRepo({ base: await tmpdir(), fqrn: 'other.example.org' });
    for (const name of ['.cvmfspublished', '.cvmfswhitelist'])
      copyFileSync(path.join(other.storage, name), path.join(repo.storage, name));
    copyObjects(other.storage, repo.storage);
    const error = await expectRefused(repo.publisher.publish({ tree: await tmpdir(), tag: 'x' }));
    expect(error.details).toMatch(
      /names repository other\.example\.org, expected test\.example\.org/,
    );
  });

  it('refuses to write without the master public key to verify with', async () => {
    const repo = await makeRepo();
    rmSync(path.join(repo.keys, 'test.example.org.pub'));
    const before = manifestBytes(repo);
    const error = await expectRefused(
      repo.publisher.tag({ name: 'HEAD', target: 'trunk' }),
      'KEY_MISSING',
    );
    expect(error.message).toMatch(/no master public key/);
    expect(manifestBytes(repo)).toEqual(before);
  });
});

describe('which tags may move is a property of the repository', () => {
  it('keeps a named tag immutable whatever rolling tags a later publisher is given', async () => {
    const repo = await makeRepo({ rollingTags: ['HEAD', 'stable'] });
    const tree = await tmpdir({ v: '1' });
    await repo.publisher.publish({ tree, tag: 'v1' });
    writeFileSync(path.join(tree, 'v'), '2');
    await repo.publisher.publish({ tree, tag: 'v2' });
    // Recorded at init: stable moves, for any publisher of this repository.
    const other = repo.reopen({ rollingTags: ['v1'] });
    await other.tag({ name: 'stable', target: 'v1' });
    await other.tag({ name: 'stable', target: 'v2' });
    await expectRefused(other.tag({ name: 'v1', target: 'v2' }), 'TAG_IMMUTABLE');
    writeFileSync(path.join(tree, 'v'), '3');
    await expectRefused(other.publish({ tree, tag: 'v1' }), 'TAG_IMMUTABLE');
    const repository = await Repository.open(directorySource(repo.storage));
    expect((await (await repository.snapshot('v1')).readFile('/v')).toString()).toBe('1');
    repository.close();
  });
});
