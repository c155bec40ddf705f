import type { Catalog, StorageUsage } from '@mfb/catalog';
import type { Config } from '@mfb/config';

/** Live copies of one database on one target. */
export type UsageRow = Omit<StorageUsage, 'firstCopyAt'>;

/** Usage rows and their sums. */
export interface UsageReport {
  items: UsageRow[];
  totals: { backups: number; bytes: number };
}

/**
 * Bytes and counts of live copies per database and target, from the catalog: a row for every
 * configured pair (`local` and each of the database's targets, zero when empty) and for any
 * other pair that still holds copies (a target removed from the config), sorted by database
 * then target, with their sums. `databaseId` limits it to one database.
 */
export async function storageUsageFor(config: Pick<Config, 'databases'>, catalog: Catalog, databaseId?: string): Promise<UsageReport> {
  const rows = await catalog.storageUsage(databaseId === undefined ? {} : { databaseId });
  const out = new Map<string, UsageRow>();
  const key = (d: string, t: string): string => `${d}\u0000${t}`;
  for (const db of config.databases) {
    if (databaseId !== undefined && db.id !== databaseId) continue;
    for (const target of ['local', ...db.targets]) out.set(key(db.id, target), { databaseId: db.id, target, backups: 0, bytes: 0 });
  }
  for (const r of rows) {
    if (r.backups > 0 || out.has(key(r.databaseId, r.target))) out.set(key(r.databaseId, r.target), { databaseId: r.databaseId, target: r.target, backups: r.backups, bytes: r.bytes });
  }
  const items = [...out.values()].sort((a, b) => (a.databaseId < b.databaseId ? -1 : a.databaseId > b.databaseId ? 1 : a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  return { items, totals: { backups: items.reduce((n, r) => n + r.backups, 0), bytes: items.reduce((n, r) => n + r.bytes, 0) } };
}
