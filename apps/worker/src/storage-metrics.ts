import type { Catalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import type { Logger, Metrics } from '@mfb/observability';
import { storageUsageFor } from '@mfb/runtime';

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
