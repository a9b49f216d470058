import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { CatalogFile } from '../cvmfs/catalog/sqlite.js';
import { decompress } from '../cvmfs/compression.js';
import {
  algorithmOfHex,
  hashBytes,
  hashToHex,
  isHashHex,
  objectPath,
  type ObjectSuffix,
} from '../cvmfs/hash.js';
import { HistoryDatabase, TRUNK, type Tag } from '../cvmfs/history.js';
import { parseManifest, verifyManifestSignature, type ParsedManifest } from '../cvmfs/manifest.js';
import {
  normalizeFingerprint,
  parseWhitelist,
  verifyWhitelistSignature,
  whitelistExpired,
  type ParsedWhitelist,
} from '../cvmfs/whitelist.js';
import { UcvmError } from '../errors.js';
import { Snapshot } from './snapshot.js';
import type { RepoSource } from './source.js';

export interface SignatureReport {
  /** Problems that make clients refuse the repository; empty if it verifies. */
  problems: string[];
  whitelistExpiresAt: Date | undefined;
  /** False if no master public key was given, so the whitelist signature was not checked. */
  whitelistSignatureChecked: boolean;
}

/**
 * A published repository, read through a directory or over HTTP with no keys: what the
 * client sees. Every object is checked against the hash it is requested by.
 */
export class Repository {
  private readonly catalogCache = new Map<string, CatalogFile>();
  private historyCache: HistoryDatabase | undefined | null = null;

  private constructor(
    readonly source: RepoSource,
    readonly parsed: ParsedManifest,
  ) {}

  static async open(source: RepoSource): Promise<Repository> {
    const bytes = await source.read('.cvmfspublished');
    if (bytes === undefined) {
      throw new UcvmError('REPO_NOT_FOUND', `no repository at ${source.location}`, {
        details: 'There is no .cvmfspublished manifest there. Create one with `ucvm repo init`.',
      });
    }
    try {
      return new Repository(source, parseManifest(bytes));
    } catch (error) {
      throw new UcvmError(
        'REPO_CORRUPT',
        `${source.location}/.cvmfspublished: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  get manifest(): ParsedManifest['manifest'] {
    return this.parsed.manifest;
  }

  /** The stored (compressed) bytes of an object, checked against its name. */
  async object(hashHex: string, suffix: ObjectSuffix): Promise<Buffer> {
    const path = objectPath(hashHex, suffix);
    const bytes = await this.source.read(path);
    if (bytes === undefined)
      throw new UcvmError('OBJECT_MISSING', `object ${path} is missing`, { where: { path } });
    if (hashToHex(hashBytes(algorithmOfHex(hashHex), bytes)) !== hashHex) {
      throw new UcvmError('OBJECT_CORRUPT', `object ${path} does not match its hash`, {
        where: { path },
      });
    }
    return bytes;
  }

  async inflatedObject(hashHex: string, suffix: ObjectSuffix): Promise<Buffer> {
    const stored = await this.object(hashHex, suffix);
    try {
      return decompress(stored);
    } catch (error) {
      throw new UcvmError(
        'OBJECT_CORRUPT',
        `object ${objectPath(hashHex, suffix)} is not a zlib stream`,
        { cause: error },
      );
    }
  }

  async catalog(hashHex: string): Promise<CatalogFile> {
    let catalog = this.catalogCache.get(hashHex);
    if (catalog === undefined) {
      catalog = new CatalogFile(await this.inflatedObject(hashHex, 'C'));
      this.catalogCache.set(hashHex, catalog);
    }
    return catalog;
  }

  /** Drops a catalog from the in-memory cache (walks over many catalogs call this to bound memory). */
  forgetCatalog(hashHex: string): void {
    this.catalogCache.get(hashHex)?.close();
    this.catalogCache.delete(hashHex);
  }

  async history(): Promise<HistoryDatabase | undefined> {
    if (this.historyCache === null) {
      const hash = this.manifest.history;
      this.historyCache =
        hash === undefined ? undefined : HistoryDatabase.open(await this.inflatedObject(hash, 'H'));
    }
    return this.historyCache;
  }

  async tags(): Promise<Tag[]> {
    return (await this.history())?.tags() ?? [];
  }

  /** Resolves a tag name or a root catalog hash; `trunk` without history is the manifest's root. */
  async resolve(ref: string): Promise<{ rootHash: string; tag: Tag | undefined }> {
    const tag = (await this.tags()).find((candidate) => candidate.name === ref);
    if (tag !== undefined) return { rootHash: tag.hashHex, tag };
    if (ref === TRUNK) return { rootHash: this.manifest.rootCatalog, tag: undefined };
    if (isHashHex(ref)) return { rootHash: ref, tag: undefined };
    throw new UcvmError('TAG_NOT_FOUND', `no tag ${ref} in ${this.source.location}`, {
      details: 'List the tags with `ucvm repo tags`.',
    });
  }

  async snapshot(ref: string): Promise<Snapshot> {
    const { rootHash } = await this.resolve(ref);
    return new Snapshot(this, rootHash);
  }

  async certificatePem(): Promise<string> {
    return (await this.inflatedObject(this.manifest.certificate, 'X')).toString('latin1');
  }

  async whitelist(): Promise<ParsedWhitelist> {
    const bytes = await this.source.read('.cvmfswhitelist');
    if (bytes === undefined)
      throw new UcvmError('REPO_CORRUPT', `${this.source.location} has no .cvmfswhitelist`);
    return parseWhitelist(bytes);
  }

  /** The client's trust chain: master key → whitelist → certificate → manifest. */
  async verifySignatures(
    masterKeys: readonly KeyObject[],
    now: Date,
    expectedFqrn?: string,
  ): Promise<SignatureReport> {
    const problems: string[] = [];
    const fqrn = expectedFqrn ?? this.manifest.fqrn;
    if (this.manifest.fqrn !== fqrn)
      problems.push(`manifest names repository ${this.manifest.fqrn}, expected ${fqrn}`);
    let certificate: X509Certificate | undefined;
    try {
      certificate = new X509Certificate(await this.certificatePem());
      const problem = verifyManifestSignature(
        this.parsed,
        createPublicKey(certificate.publicKey.export({ type: 'spki', format: 'pem' })),
      );
      if (problem !== undefined) problems.push(problem);
    } catch (error) {
      problems.push(`certificate: ${(error as Error).message}`);
    }
    let expiresAt: Date | undefined;
    try {
      const whitelist = await this.whitelist();
      expiresAt = whitelist.whitelist.expiresAt;
      if (whitelist.whitelist.fqrn !== fqrn)
        problems.push(`whitelist names repository ${whitelist.whitelist.fqrn}, expected ${fqrn}`);
      if (whitelistExpired(whitelist.whitelist, now))
        problems.push(`whitelist expired on ${expiresAt.toISOString()}`);
      if (masterKeys.length > 0) {
        const problem = verifyWhitelistSignature(whitelist, masterKeys);
        if (problem !== undefined) problems.push(problem);
      }
      if (certificate !== undefined) {
        const listed = whitelist.whitelist.fingerprints.map(normalizeFingerprint);
        if (!listed.includes(normalizeFingerprint(certificate.fingerprint)))
          problems.push('the certificate is not on the whitelist');
      }
    } catch (error) {
      problems.push(`whitelist: ${(error as Error).message}`);
    }
    return {
      problems,
      whitelistExpiresAt: expiresAt,
      whitelistSignatureChecked: masterKeys.length > 0,
    };
  }

  close(): void {
    for (const catalog of this.catalogCache.values()) catalog.close();
    this.catalogCache.clear();
    if (this.historyCache) this.historyCache.close();
  }
}
