import { MANIFEST_SUFFIX, hasPinMarker, readManifest } from '@mfb/backup';
import type { StorageDriver } from '@mfb/storage';
import type { Catalog } from './types.js';

export interface RebuildOptions {
  /** Only manifests whose key starts with this prefix (e.g. `finance/`). Default: everything. */
  prefix?: string;
  /** Require the artifact beside each manifest to exist (one `head` per backup). Default true. */
  checkArtifacts?: boolean;
  /**
   * Also mark copies on `target` that the catalog believes live but storage no longer has as
   * deleted. Off by default: an unmounted NAS would otherwise "delete" every copy on it.
   */
  markMissing?: boolean;
  /**
   * Only copies the catalog never recorded on `target` (the backup id, from the manifest's key,
   * is looked up first; a backup with any location row on `target`, live or deleted, is neither
   * read nor touched). What a backup job runs on its database's prefix of the primary storage,
   * and an upload job on its target, to adopt a complete copy whose job died before recording it.
   */
  onlyUnknown?: boolean;
  signal?: AbortSignal;
}

export interface RebuildReport {
  target: string;
  /** Manifests found in storage. */
  scanned: number;
  /** Backups that were not in the catalog and were added. */
  added: number;
  /** Backups already known; their copy on `target` was (re)recorded as live. */
  updated: number;
  /** Manifests that were unreadable, invalid, or whose artifact is missing. */
  skipped: Array<{ key: string; reason: string }>;
  /** Copies marked deleted because storage no longer has them (`markMissing`). */
  markedDeleted: number;
  /** Backups pinned again because a pin marker (`<artifactKey>.pin.json`) sits beside them. */
  pinsRestored: number;
}

/**
 * Re-create catalog records from the manifests in `storage` (storage is the source of truth).
 * Lists `*.manifest.json`, reads and validates each (the engine's `readManifest`: JSON,
 * schema, and that it describes the artifact it sits beside), checks the artifact exists, and
 * records the backup with a live copy on `target`. A pin marker beside the artifact
 * (`<artifactKey>.pin.json`, written by the API on pin beside every copy, and copied by uploads) pins the backup
 * again; markers are never listed as manifests (they do not end in `.manifest.json`). A
 * missing marker never unpins: the catalog may know a pin storage does not (another target).
 * Idempotent: running it twice changes nothing the second time (pins and other targets'
 * copies are kept).
 */
export async function rebuildFromStorage(
  catalog: Catalog,
  storage: StorageDriver,
  target: string,
  opts: RebuildOptions = {},
): Promise<RebuildReport> {
  const report: RebuildReport = { target, scanned: 0, added: 0, updated: 0, skipped: [], markedDeleted: 0, pinsRestored: 0 };
  /** Every key listed, to tell which copies storage still has (`markMissing`). */
  const listed = new Set<string>();
  let cursor: string | undefined;
  do {
    opts.signal?.throwIfAborted();
    const page = await storage.list(opts.prefix ?? '', cursor ? { cursor } : {});
    cursor = page.cursor;
    for (const item of page.items) {
      if (opts.markMissing) listed.add(item.key);
      if (!item.key.endsWith(MANIFEST_SUFFIX)) continue;
      report.scanned++;
      const artifactKey = item.key.slice(0, -MANIFEST_SUFFIX.length);
      if (opts.onlyUnknown) {
        const id = (artifactKey.split('/').pop() ?? '').split('.')[0] ?? '';
        const known = id === '' ? null : await catalog.getBackup(id);
        if (known?.locations.some((l) => l.target === target)) continue;
      }
      let manifest;
      try {
        manifest = await readManifest(storage, artifactKey);
      } catch (err) {
        report.skipped.push({ key: item.key, reason: err instanceof Error ? err.message : String(err) });
        continue;
      }
      const artifact = opts.checkArtifacts !== false ? await storage.head(artifactKey) : undefined;
      if (artifact === null) {
        report.skipped.push({ key: item.key, reason: `artifact ${artifactKey} is missing` });
        continue;
      }
      const loc = { target, artifactKey, storedAt: item.lastModified.toISOString(), storageClass: artifact?.storageClass ?? null };
      const existing = await catalog.getBackup(manifest.backupId);
      if (existing) {
        await catalog.addLocation(manifest.backupId, loc);
        report.updated++;
      } else {
        await catalog.recordBackup(manifest, loc);
        report.added++;
      }
      if (!existing?.pinned && (await hasPinMarker(storage, artifactKey))) {
        await catalog.setPinned(manifest.backupId, true);
        report.pinsRestored++;
      }
    }
  } while (cursor);

  if (opts.markMissing) {
    let c: string | null = null;
    const stale: string[] = [];
    do {
      const page = await catalog.listBackups({ target, limit: 500, ...(c ? { cursor: c } : {}) });
      for (const b of page.items) {
        const loc = b.locations.find((l) => l.target === target && l.deletedAt === null);
        const inScope = loc !== undefined && loc.artifactKey.startsWith(opts.prefix ?? '');
        if (inScope && !listed.has(loc.artifactKey)) stale.push(b.backupId);
      }
      c = page.nextCursor;
    } while (c);
    for (const id of stale) await catalog.markLocationDeleted(id, target);
    report.markedDeleted = stale.length;
  }
  return report;
}
