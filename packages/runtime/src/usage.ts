import { mkdir, stat, statfs } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Catalog, StorageUsage } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import { InsufficientSpaceError } from '@mfb/errors';

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

/** Free bytes for an unprivileged writer on the filesystem holding `dir` (`statfs`, `bavail`). */
async function freeBytes(dir: string): Promise<{ free: number; dev: number }> {
  const [fs, st] = await Promise.all([statfs(dir), stat(dir)]);
  return { free: fs.bavail * fs.bsize, dev: st.dev };
}

/** The margin on top of the last snapshot's size: 10 % plus 16 MiB (WAL growth, manifests, temp names). */
export function spaceNeeded(bytes: number): number {
  return Math.ceil(bytes * 1.1) + 16 * 1024 * 1024;
}

/**
 * Before a backup of `databaseId`: is there room for it? The artifact goes to the primary
 * storage, and with a scratch-copy snapshot (`scratch`: `snapshot.method` vacuum-into or
 * backup-api, or a SQLite build without sqlite_dbpage; `snapshotNeedsScratch` of @mfb/backup)
 * the whole snapshot to the scratch directory (`tmpDir`) first; the streaming snapshot (the
 * default) needs no scratch space. Both are checked against the database's last snapshot size
 * from the catalog (plus {@link spaceNeeded}'s margin; twice when they share a volume). Only a
 * `file://` primary storage is checked (a bucket has no "free space"). A database never backed
 * up is not checked (nothing to go by).
 * @throws InsufficientSpaceError (INSUFFICIENT_SPACE, permanent) before any work starts
 */
export async function checkBackupSpace(
  config: Pick<Config, 'tmpDir' | 'storageUrl'>,
  catalog: Catalog,
  databaseId: string,
  opts: { scratch: boolean } = { scratch: true },
): Promise<void> {
  const last = await catalog.latestBackup(databaseId);
  if (!last) return;
  const size = Math.max(last.manifest.snapshot.sizeBytes, last.manifest.artifact.sizeBytes);
  await mkdir(config.tmpDir, { recursive: true, mode: 0o700 });
  const scratch = await freeBytes(config.tmpDir);
  const needScratch = opts.scratch ? spaceNeeded(size) : 0;
  if (config.storageUrl.startsWith('file:')) {
    const dir = fileURLToPath(config.storageUrl);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const local = await freeBytes(dir);
    const needLocal = local.dev === scratch.dev ? needScratch + spaceNeeded(size) : spaceNeeded(size);
    if (local.free < needLocal) throw new InsufficientSpaceError('the primary storage', dir, local.free, needLocal);
  }
  if (scratch.free < needScratch) throw new InsufficientSpaceError('the scratch directory', config.tmpDir, scratch.free, needScratch);
}
