import type { Catalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import type { Logger, Metrics } from '@mfb/observability';
import { storageUsageFor } from '@mfb/runtime';
import { setBackupSizes } from './job-metrics.js';

/** Jobs after which a database's storage usage changes. */
export const USAGE_CHANGING_JOBS: ReadonlySet<string> = new Set(['backup', 'upload', 'prune']);

/**
 * Set `mfb_storage_bytes` and `mfb_storage_backups` of one database (or all) from the catalog.
 * Never throws: a catalog hiccup leaves the previous values and a warning, not a failed job.
 */
export async function refreshStorageMetrics(deps: { config: Pick<Config, 'databases'>; catalog: Catalog; metrics: Metrics; log: Logger }, databaseId?: string): Promise<void> {
  try {
    const usage = await storageUsageFor(deps.config, deps.catalog, databaseId);
    for (const r of usage.items) {
      deps.metrics.storageBytes.set({ database: r.databaseId, target: r.target }, r.bytes);
      deps.metrics.storageBackups.set({ database: r.databaseId, target: r.target }, r.backups);
    }
  } catch (err) {
    deps.log.warn({ databaseId, err: err instanceof Error ? err.message : String(err) }, 'storage usage metrics not refreshed');
  }
}

/**
 * At worker start, set what the catalog already knows, so a restarted worker does not lose
 * (and an alert on it does not silently resolve) the age of each database's newest backup:
 * `mfb_last_backup_success_timestamp_seconds` per database and target (the newest live copy's
 * time) and the newest backup's sizes; `mfb_restore_drills_total` at 0. Never throws.
 */
export async function seedBackupMetrics(deps: { config: Pick<Config, 'databases'>; catalog: Catalog; metrics: Metrics; log: Logger }): Promise<void> {
  try {
    for (const db of deps.config.databases) {
      for (const target of ['local', ...db.targets]) {
        // Drill counters exist at 0 from the start, so the first failure is an increase.
        for (const outcome of ['ok', 'failed']) deps.metrics.restoreDrillsTotal.inc({ database: db.id, target, outcome }, 0);
        const newest = (await deps.catalog.listBackups({ databaseId: db.id, target, status: 'available', limit: 1 })).items[0];
        if (!newest) continue;
        const loc = newest.locations.find((l) => l.target === target && l.deletedAt === null);
        const at = Date.parse(target === 'local' ? newest.createdAt : (loc?.storedAt ?? newest.createdAt)) / 1000;
        deps.metrics.lastBackupSuccess.set({ database: db.id, target }, at);
        if (target === 'local') setBackupSizes(deps.metrics, newest.manifest);
      }
    }
  } catch (err) {
    deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'backup metrics not seeded from the catalog');
  }
}
