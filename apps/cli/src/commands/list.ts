import type { BackupRecord } from '@mfb/catalog';
import type { Context } from '../context.js';
import { bytes, chainCells, table } from '../format.js';

export interface ListOptions {
  limit?: string;
  all?: boolean;
}

/** Backups from the catalog, newest first (`--all` follows every page). */
export async function runList(ctx: Context, databaseId: string | undefined, o: ListOptions) {
  const catalog = await ctx.catalog();
  const limit = Math.min(500, Math.max(1, Number(o.limit ?? 50) || 50));
  const items: BackupRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await catalog.listBackups({ ...(databaseId ? { databaseId } : {}), limit, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = o.all ? (page.nextCursor ?? undefined) : undefined;
  } while (cursor);
  return {
    items: items.map((b) => ({
      backupId: b.backupId,
      databaseId: b.databaseId,
      createdAt: b.createdAt,
      sizeBytes: b.sizeBytes,
      pinned: b.pinned,
      compression: b.manifest.compression,
      kind: b.manifest.kind ?? 'full',
      parentId: b.manifest.parentId ?? null,
      chainLength: b.manifest.chainLength ?? 0,
      compactedFrom: b.manifest.compactedFrom ?? null,
      encrypted: b.manifest.encryption !== null,
      locations: b.locations,
    })),
  };
}

export function humanList(r: Awaited<ReturnType<typeof runList>>): string {
  if (r.items.length === 0) return 'no backups';
  return table(
    ['BACKUP', 'DATABASE', 'CREATED', 'SIZE', 'KIND', 'PARENT', 'COMPRESSION', 'ENC', 'COPIES'],
    r.items.map((b) => [
      b.backupId,
      b.databaseId,
      b.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      bytes(b.sizeBytes),
      ...chainCells(b),
      `${b.compression.algorithm}${b.compression.level !== null ? `-${b.compression.level}` : ''}`,
      b.encrypted ? 'yes' : 'no',
      b.locations.filter((l) => l.deletedAt === null).map((l) => l.target).join(',') || '(deleted)',
    ]),
  );
}
