import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { CatalogFile } from '../cvmfs/catalog/sqlite.js';
import {
  algorithmOfHex,
  hashBytes,
  hashToHex,
  isHashHex,
  newHasher,
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
import { isUcvmError, UcvmError } from '../errors.js';
import { inflateBounded, inflateBoundedAsync, inflateStream } from './inflate.js';
import { declaredCatalogLimit, READ_LIMITS, storedLimit } from './limits.js';
import { Snapshot } from './snapshot.js';
import { fqrnOfLocation, type RepoSource } from './source.js';

export interface SignatureReport {
  /** Problems that make clients refuse the repository; empty if it verifies. */
  problems: string[];
  whitelistExpiresAt: Date | undefined;
  /** False if no master public key was given, so the whitelist signature was not checked. */
  whitelistSignatureChecked: boolean;
  /** Problems that are files of the chain that cannot be read or parsed (also in `problems`). */
  unreadable: string[];
  /** The whitelist's expiry is among the problems (and may be the only one). */
  whitelistExpired: boolean;
}

/** Inflated-size limits by object kind, when nothing declares the size. */
const inflatedLimits: Record<ObjectSuffix, number> = {
  '': READ_LIMITS.objectBytes,
  P: READ_LIMITS.objectBytes,
  C: READ_LIMITS.catalogBytes,
  H: READ_LIMITS.historyBytes,
  X: READ_LIMITS.smallObjectBytes,
  M: READ_LIMITS.smallObjectBytes,
};

/**
 * A published repository, read through a directory or over HTTP with no private keys: what
 * the client sees. Every object is checked against the hash it is requested by; every hash
 * read from a history or catalog is checked to be a hash before it names a file.
 */
export class Repository {
  private readonly catalogCache = new Map<string, CatalogFile>();
  /** Uncompressed catalog sizes declared by the manifest, tags and parent catalogs. */
  private readonly declaredSizes = new Map<string, number>();
  private historyCache: HistoryDatabase | undefined | null = null;
  private tagCache: Tag[] | undefined;
  private verifiedChain = false;

  private constructor(
    readonly source: RepoSource,
    readonly parsed: ParsedManifest,
  ) {
    this.declare(parsed.manifest.rootCatalog, parsed.manifest.rootCatalogSize);
  }

  /**
   * Opens a repository without checking any signature: only for code that checks them itself
   * (`verify`, or callers that then call `verifySignatures`). Readers use
   * `openVerifiedRepository`.
   */
  static async open(source: RepoSource): Promise<Repository> {
    const bytes = await source.read('.cvmfspublished', { maxBytes: READ_LIMITS.manifestBytes });
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

  /** True once `openVerifiedRepository` checked the signature chain of this manifest. */
  get verified(): boolean {
    return this.verifiedChain;
  }

  /** @internal Set by openVerifiedRepository only. */
  markVerified(): void {
    this.verifiedChain = true;
  }

  private declare(hashHex: string, size: number): void {
    if (!Number.isSafeInteger(size) || size <= 0) return;
    this.declaredSizes.set(hashHex, Math.max(size, this.declaredSizes.get(hashHex) ?? 0));
  }

  /** The object path of a hash, refused unless `hashHex` is a content hash. */
  private pathOf(hashHex: string, suffix: ObjectSuffix): string {
    if (!isHashHex(hashHex))
      throw new UcvmError(
        'REPO_CORRUPT',
        `${this.source.location}: ${JSON.stringify(hashHex)} is not a content hash`,
        { details: 'A history or catalog names an object by something else than a hash.' },
      );
    return objectPath(hashHex, suffix);
  }

  private hashMismatch(path: string): UcvmError {
    return new UcvmError('OBJECT_CORRUPT', `object ${path} does not match its hash`, {
      where: { path },
    });
  }

  /**
   * The stored (compressed) bytes of an object, checked against its name; `maxInflated` bounds
   * what it may hold (default: the limit for its kind).
   */
  async object(hashHex: string, suffix: ObjectSuffix, maxInflated?: number): Promise<Buffer> {
    const path = this.pathOf(hashHex, suffix);
    const bytes = await this.source.read(path, {
      maxBytes: storedLimit(maxInflated ?? inflatedLimits[suffix]),
    });
    if (bytes === undefined)
      throw new UcvmError('OBJECT_MISSING', `object ${path} is missing`, { where: { path } });
    if (hashToHex(hashBytes(algorithmOfHex(hashHex), bytes)) !== hashHex)
      throw this.hashMismatch(path);
    return bytes;
  }

  /** Checks that an object exists and matches its hash, without holding it in memory. */
  async checkObject(hashHex: string, suffix: ObjectSuffix, maxInflated?: number): Promise<void> {
    const path = this.pathOf(hashHex, suffix);
    const body = await this.source.stream(path, {
      maxBytes: storedLimit(maxInflated ?? inflatedLimits[suffix]),
    });
    if (body === undefined)
      throw new UcvmError('OBJECT_MISSING', `object ${path} is missing`, { where: { path } });
    const hasher = newHasher(algorithmOfHex(hashHex));
    for await (const piece of body) hasher.update(piece);
    if (hashToHex({ algorithm: algorithmOfHex(hashHex), digest: hasher.digest() }) !== hashHex)
      throw this.hashMismatch(path);
  }

  /**
   * The content of an object as it arrives, inflated if `compressed`, exactly `size` bytes. The
   * stored bytes are hashed while they stream: a mismatch fails the iteration at its end, after
   * the bytes were yielded (callers that write them out must fail when it throws).
   */
  async *objectContent(
    hashHex: string,
    suffix: ObjectSuffix,
    expected: { size: number; compressed: boolean },
  ): AsyncGenerator<Buffer> {
    const path = this.pathOf(hashHex, suffix);
    const { size, compressed } = expected;
    const body = await this.source.stream(path, {
      maxBytes: compressed ? storedLimit(size) : size,
    });
    if (body === undefined)
      throw new UcvmError('OBJECT_MISSING', `object ${path} is missing`, { where: { path } });
    const algorithm = algorithmOfHex(hashHex);
    const mismatch = (): UcvmError => this.hashMismatch(path);
    async function* hashed(): AsyncGenerator<Buffer> {
      const hasher = newHasher(algorithm);
      for await (const piece of body!) {
        hasher.update(piece);
        yield piece;
      }
      if (hashToHex({ algorithm, digest: hasher.digest() }) !== hashHex) throw mismatch();
    }
    let produced = 0;
    const pieces = compressed ? inflateStream(hashed(), size, `object ${path}`) : hashed();
    for await (const piece of pieces) {
      produced += piece.length;
      if (produced > size)
        throw new UcvmError('OBJECT_CORRUPT', `object ${path} holds more than ${size} bytes`, {
          where: { path },
        });
      yield piece;
    }
    if (produced !== size)
      throw new UcvmError(
        'OBJECT_CORRUPT',
        `object ${path} holds ${produced} bytes, expected ${size}`,
        { where: { path } },
      );
  }

  /** An object inflated whole, at most `maxInflated` bytes (default: the limit for its kind). */
  async inflatedObject(
    hashHex: string,
    suffix: ObjectSuffix,
    maxInflated?: number,
  ): Promise<Buffer> {
    const limit = maxInflated ?? inflatedLimits[suffix];
    const stored = await this.object(hashHex, suffix, limit);
    return inflateBoundedAsync(stored, limit, `object ${objectPath(hashHex, suffix)}`);
  }

  /**
   * A catalog, bounded by the size its parent, tag or the manifest declared for it (with some
   * slack) or by READ_LIMITS.catalogBytes.
   */
  async catalog(hashHex: string, declaredSize?: number): Promise<CatalogFile> {
    const cached = this.catalogCache.get(hashHex);
    if (cached !== undefined) return cached;
    return (await this.storedCatalog(hashHex, declaredSize)).catalog;
  }

  /**
   * A catalog with the stored bytes it came from (a copy into another repository stores those
   * bytes as they are, so the catalog keeps its hash). Always read from the source.
   */
  async storedCatalog(
    hashHex: string,
    declaredSize?: number,
  ): Promise<{ catalog: CatalogFile; stored: Buffer }> {
    if (declaredSize !== undefined) this.declare(hashHex, declaredSize);
    const limit = declaredCatalogLimit(this.declaredSizes.get(hashHex));
    const stored = await this.object(hashHex, 'C', limit);
    const bytes = inflateBounded(stored, limit, `object ${objectPath(hashHex, 'C')}`);
    let catalog: CatalogFile;
    try {
      catalog = new CatalogFile(bytes);
    } catch (error) {
      throw new UcvmError(
        'REPO_CORRUPT',
        `catalog ${hashHex} is not a catalog database: ${(error as Error).message}`,
        { cause: error },
      );
    }
    for (const ref of catalog.nested()) {
      if (!isHashHex(ref.hashHex)) {
        catalog.close();
        throw new UcvmError(
          'REPO_CORRUPT',
          `catalog ${hashHex} names nested catalog ${ref.path} by ${JSON.stringify(ref.hashHex)}, not a hash`,
        );
      }
      this.declare(ref.hashHex, ref.size);
    }
    this.catalogCache.get(hashHex)?.close();
    this.catalogCache.set(hashHex, catalog);
    return { catalog, stored };
  }

  /** Drops a catalog from the in-memory cache (walks over many catalogs call this to bound memory). */
  forgetCatalog(hashHex: string): void {
    this.catalogCache.get(hashHex)?.close();
    this.catalogCache.delete(hashHex);
  }

  async history(): Promise<HistoryDatabase | undefined> {
    if (this.historyCache === null) {
      const hash = this.manifest.history;
      if (hash === undefined) this.historyCache = undefined;
      else {
        const bytes = await this.inflatedObject(hash, 'H');
        try {
          this.historyCache = HistoryDatabase.open(bytes);
        } catch (error) {
          throw new UcvmError(
            'REPO_CORRUPT',
            `history ${hash} is not a history database: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
    }
    return this.historyCache;
  }

  /** The tags; a tag whose hash is not a hash makes the history corrupt. */
  async tags(): Promise<Tag[]> {
    if (this.tagCache === undefined) {
      const tags = (await this.history())?.tags() ?? [];
      const bad = tags.filter((tag) => !isHashHex(tag.hashHex));
      if (bad.length > 0)
        throw new UcvmError(
          'REPO_CORRUPT',
          `the history of ${this.source.location} names root catalogs by something else than a hash`,
          {
            details: bad.map((tag) => `tag ${tag.name}: ${JSON.stringify(tag.hashHex)}`).join('\n'),
          },
        );
      for (const tag of tags) this.declare(tag.hashHex, tag.size);
      this.tagCache = tags;
    }
    return this.tagCache;
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
    const bytes = await this.source.read('.cvmfswhitelist', {
      maxBytes: READ_LIMITS.whitelistBytes,
    });
    if (bytes === undefined)
      throw new UcvmError('REPO_CORRUPT', `${this.source.location} has no .cvmfswhitelist`);
    try {
      return parseWhitelist(bytes);
    } catch (error) {
      throw new UcvmError(
        'REPO_CORRUPT',
        `${this.source.location}/.cvmfswhitelist: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /**
   * The client's trust chain: master key → whitelist → certificate → manifest, and both name
   * `expectedFqrn` (default: the name the location implies, never the manifest's own). Without
   * master keys the whitelist signature is not checked (`whitelistSignatureChecked: false`).
   * HTTP failures are thrown, not reported.
   */
  async verifySignatures(
    masterKeys: readonly KeyObject[],
    now: Date,
    expectedFqrn?: string,
  ): Promise<SignatureReport> {
    const problems: string[] = [];
    const unreadable: string[] = [];
    const unread = (what: string, error: unknown): void => {
      if (isUcvmError(error, 'HTTP_FAILED')) throw error;
      const text = `${what}: ${(error as Error).message}`;
      problems.push(text);
      unreadable.push(text);
    };
    const fqrn = expectedFqrn ?? fqrnOfLocation(this.source.location);
    if (this.manifest.fqrn !== fqrn)
      problems.push(`manifest names repository ${this.manifest.fqrn}, expected ${fqrn}`);
    let certificate: X509Certificate | undefined;
    try {
      certificate = new X509Certificate(await this.certificatePem());
    } catch (error) {
      unread('certificate', error);
    }
    if (certificate !== undefined) {
      const problem = verifyManifestSignature(
        this.parsed,
        createPublicKey(certificate.publicKey.export({ type: 'spki', format: 'pem' })),
      );
      if (problem !== undefined) problems.push(problem);
    }
    let expiresAt: Date | undefined;
    let expired = false;
    let whitelist: ParsedWhitelist | undefined;
    try {
      whitelist = await this.whitelist();
    } catch (error) {
      unread('whitelist', error);
    }
    if (whitelist !== undefined) {
      expiresAt = whitelist.whitelist.expiresAt;
      if (whitelist.whitelist.fqrn !== fqrn)
        problems.push(`whitelist names repository ${whitelist.whitelist.fqrn}, expected ${fqrn}`);
      if (whitelistExpired(whitelist.whitelist, now)) {
        expired = true;
        problems.push(`whitelist expired on ${expiresAt.toISOString()}`);
      }
      if (masterKeys.length > 0) {
        const problem = verifyWhitelistSignature(whitelist, masterKeys);
        if (problem !== undefined) problems.push(problem);
      }
      if (certificate !== undefined) {
        const listed = whitelist.whitelist.fingerprints.map(normalizeFingerprint);
        if (!listed.includes(normalizeFingerprint(certificate.fingerprint)))
          problems.push('the certificate is not on the whitelist');
      }
    }
    return {
      problems,
      whitelistExpiresAt: expiresAt,
      whitelistSignatureChecked: masterKeys.length > 0,
      unreadable,
      whitelistExpired: expired,
    };
  }

  close(): void {
    for (const catalog of this.catalogCache.values()) catalog.close();
    this.catalogCache.clear();
    if (this.historyCache) this.historyCache.close();
  }
}
