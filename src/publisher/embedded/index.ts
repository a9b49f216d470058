import { TRUNK } from '../../cvmfs/history.js';
import type { Progress } from '../../log.js';
import type {
  CheckRequest,
  ImportRequest,
  ImportResult,
  Publisher,
  PublisherCapabilities,
  PublishRequest,
  PublishResult,
  RepoState,
  TagRequest,
  TagResult,
} from '../publisher.js';
import {
  initRepository,
  moveTag,
  recordCheck,
  removeTag,
  resignWhitelist,
  type InitOptions,
} from './admin.js';
import { openVerifiedBase } from './base.js';
import { createContext, type EmbeddedContext, type EmbeddedOptions } from './context.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';
import { importSnapshot } from './import.js';
import { publishTree } from './publish.js';

export type { EmbeddedOptions } from './context.js';
export type { GcReport } from './gc.js';

/** The embedded stratum 0: writes the repository format into a directory itself. */
export class EmbeddedPublisher implements Publisher {
  readonly kind = 'embedded' as const;
  readonly capabilities: PublisherCapabilities = { gc: true, servableDirectory: true };
  private readonly context: EmbeddedContext;

  constructor(options: EmbeddedOptions) {
    this.context = createContext(options);
  }

  get fqrn(): string {
    return this.context.fqrn;
  }

  get storage(): string {
    return this.context.storage.location;
  }

  get keysDir(): string {
    return this.context.keys.dir;
  }

  init(options: InitOptions): Promise<{ rootHash: string; whitelistExpiresAt: Date }> {
    return initRepository(this.context, options);
  }

  /** Renews the whitelist (needs the master key). */
  resign(days: number): Promise<Date> {
    return resignWhitelist(this.context, days);
  }

  /** The verified current state (as every write sees it). */
  async state(): Promise<RepoState> {
    const { repository, history, whitelist } = await openVerifiedBase(this.context, {
      purpose: 'reading',
    });
    try {
      return {
        fqrn: this.context.fqrn,
        revision: repository.manifest.revision,
        rootHash: repository.manifest.rootCatalog,
        publishedAt: new Date(repository.manifest.publishedAt * 1000),
        whitelistExpiresAt: whitelist.whitelist.expiresAt,
        tags: history.tags(),
      };
    } finally {
      repository.close();
    }
  }

  publish(request: PublishRequest, progress?: Progress): Promise<PublishResult> {
    return publishTree(this.context, request, progress);
  }

  importSnapshot(request: ImportRequest, progress?: Progress): Promise<ImportResult> {
    return importSnapshot(this.context, request, progress);
  }

  tag(request: TagRequest): Promise<TagResult> {
    return moveTag(this.context, request);
  }

  recordCheck(request: CheckRequest): Promise<void> {
    return recordCheck(this.context, request);
  }

  removeTag(name: string): Promise<void> {
    return removeTag(this.context, name);
  }

  gc(options: GcOptions): Promise<GcReport> {
    return collectGarbage(this.context, options);
  }
}

export function createEmbeddedPublisher(options: EmbeddedOptions): EmbeddedPublisher {
  return new EmbeddedPublisher(options);
}

export { TRUNK };
