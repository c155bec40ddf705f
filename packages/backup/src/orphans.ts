import type { StorageDriver } from '@mfb/storage';
import { MANIFEST_SUFFIX, PIN_SUFFIX } from './ids.js';

/** Default age after which an artifact without its manifest is reclaimed: 1 h. */
export const ORPHAN_ARTIFACT_AGE_MS = 3600 * 1000;

// `<databaseId>/<backupId>.sqlite[.gz|.zst][.enc]`
const ARTIFACT_RE = /^[^/]+\/\d{8}T\d{9}Z-[0-9a-f]{8}\.sqlite(\.gz|\.zst)?(\.enc)?$/;

/**
 * Delete the artifacts under `<databaseId>/` that have no manifest beside them and were last
 * modified more than `olderThanMs` ago (default {@link ORPHAN_ARTIFACT_AGE_MS}): a writer killed
 * between storing the artifact and writing its manifest leaves one, invisible to the catalog,
 * to a rebuild and to retention. A pin marker whose artifact is gone goes with it. The
 * caller must hold the database's lock: a backup in progress has an artifact without manifest
 * for a moment, and the age threshold is only a second line of defence. Returns the keys
 * deleted.
 */
export async function reclaimOrphanArtifacts(storage: StorageDriver, databaseId: string, opts: { olderThanMs?: number; now?: number } = {}): Promise<string[]> {
  const olderThan = opts.olderThanMs ?? ORPHAN_ARTIFACT_AGE_MS;
  const now = opts.now ?? Date.now();
  const keys = new Map<string, Date>();
  let cursor: string | undefined;
  do {
    const page = await storage.list(`${databaseId}/`, cursor !== undefined ? { cursor } : {});
    for (const o of page.items) keys.set(o.key, o.lastModified);
    cursor = page.cursor;
  } while (cursor !== undefined);
  const deleted: string[] = [];
  for (const [key, modified] of keys) {
    if (!ARTIFACT_RE.test(key) || keys.has(key + MANIFEST_SUFFIX)) continue;
    if (now - modified.getTime() < olderThan) continue;
    await storage.delete(key);
    deleted.push(key);
    if (keys.has(key + PIN_SUFFIX)) await storage.delete(key + PIN_SUFFIX);
  }
  return deleted;
}
