import { storageUsageFor, type UsageReport } from '@mfb/runtime';
import type { Context } from '../context.js';
import { bytes, table } from '../format.js';

/** `usage [db]`: bytes and counts of live copies per database and target, from the catalog. */
export async function runUsage(ctx: Context, databaseId: string | undefined): Promise<UsageReport> {
  const config = await ctx.config();
  if (databaseId !== undefined) await ctx.database(databaseId);
  return storageUsageFor(config, await ctx.catalog(), databaseId);
}

export function humanUsage(u: UsageReport): string {
  const rows = u.items.map((r) => [r.databaseId, r.target, String(r.backups), bytes(r.bytes)]);
  return table(['DATABASE', 'TARGET', 'BACKUPS', 'SIZE'], [...rows, ['total', '', String(u.totals.backups), bytes(u.totals.bytes)]]);
}
