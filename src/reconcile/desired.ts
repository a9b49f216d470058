import type { Manifest } from '../manifest/schema.js';
import { loadExtraFiles } from '../template/extra-files.js';
import { versionIdentity } from './identity.js';
import type { DesiredVersion } from './plan.js';

/** The version a channel's manifest asks for, with its identity (extra files read from `root`). */
export async function desiredVersion(manifest: Manifest, root: string): Promise<DesiredVersion> {
  const files = await loadExtraFiles(manifest.files, root);
  const bytes = new Map(files.map((file) => [file.path, file.content]));
  return {
    channel: manifest.channel,
    system: manifest.system.name,
    version: manifest.system.version,
    identity: versionIdentity(manifest, (file) => bytes.get(file.path) ?? Buffer.alloc(0)),
    hotfix: manifest.hotfix !== undefined,
    ...(manifest.rollback !== undefined && { rollbackTo: manifest.rollback.to }),
  };
}
