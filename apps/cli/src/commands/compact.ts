import type { BackupRecord } from '@mfb/catalog';
import { BackupNotFoundError } from '@mfb/errors';
import { compactRecorded } from '@mfb/runtime';
import { prepareScratchDir, type Context } from '../context.js';
import { bytes, fields, seconds } from '../format.js';
import { lockOptions, withDatabaseLock } from '../lock.js';
import { interruptSignal } from '../signals.js';

export interface CompactCliOptions {
  backup?: string;
  force?: boolean;
  lockWait?: string;
}

export interface CompactReport {
  databaseId: string;
  /** `compacted`; `already`: an earlier run compacted it; `nothing`: the newest backup is a full. */
  outcome: 'compacted' | 'already' | 'nothing';
  /** The delta compacted (null for `nothing`). */
  from: string | null;
  /** The new full (null for `nothing`). */
  backupId: string | null;
  targets: string[];
  chainBytes: number;
  fullBytes: number;
  locked: boolean;
  elapsedMs: number;
}

/**
 * `compact <db> [--backup <id>]`: merge the chain of a delta (default: the newest backup, when
 * it is one) into a new full backup, read from storage only: the live database is not touched
 * (`compactRecorded` of @mfb/runtime, the engine's `compactBackup`). Runs under the
 * per-database lock like `backup` (the local lock when Redis is unreachable). The old chain is
 * left to retention, which now deletes what nothing else needs.
 */
export async function runCompact(ctx: Context, databaseId: string, o: CompactCliOptions): Promise<CompactReport> {
  const started = Date.now();
  const config = await ctx.config();
  const db = await ctx.database(databaseId);
  const catalog = await ctx.writableCatalog();
  await prepareScratchDir(ctx, config.tmpDir);
  let rec: BackupRecord | null;
  if (o.backup) {
    rec = await catalog.getBackup(o.backup);
    if (!rec || rec.databaseId !== db.id || !rec.locations.some((l) => l.deletedAt === null)) throw new BackupNotFoundError(o.backup, { databaseId: db.id });
  } else {
    rec = (await catalog.listBackups({ databaseId: db.id, status: 'available', limit: 1 })).items[0] ?? null;
    if (!rec) throw new BackupNotFoundError('(newest)', { databaseId: db.id });
  }
  const target = rec;
  return withDatabaseLock(ctx, db.id, { ...lockOptions(o), what: 'backupctl compact' }, async (lock) => {
    const locked = lock.kind !== 'forced';
    if (!o.backup && target.manifest.kind !== 'delta') {
      return { databaseId: db.id, outcome: 'nothing', from: null, backupId: null, targets: [], chainBytes: target.sizeBytes, fullBytes: target.sizeBytes, locked, elapsedMs: Date.now() - started };
    }
    const interrupt = interruptSignal();
    try {
      const storages = new Map<string, Awaited<ReturnType<Context['storage']>>>();
      for (const l of target.locations) if (l.deletedAt === null) storages.set(l.target, await ctx.storage(l.target));
      const r = await compactRecorded({ catalog, storageFor: (t) => storages.get(t)!, keys: config.keys, tmpDir: config.tmpDir }, db, target, {
        signal: AbortSignal.any([interrupt.signal, lock.signal]),
        fence: lock.fence,
        onProgress: (p) => ctx.progress.update(p),
      });
      ctx.progress.done();
      return {
        databaseId: db.id,
        outcome: r.already ? 'already' : 'compacted',
        from: r.from,
        backupId: r.backupId,
        targets: r.targets,
        chainBytes: r.chainBytes,
        fullBytes: r.fullBytes,
        locked,
        elapsedMs: Date.now() - started,
      };
    } finally {
      interrupt.dispose();
    }
  });
}

export function humanCompact(r: CompactReport): string {
  if (r.outcome === 'nothing') return `nothing to compact: the newest backup of ${r.databaseId} is a full backup`;
  return (
    (r.outcome === 'already' ? `OK: ${r.from} was compacted before, into ${r.backupId}` : `OK: ${r.from} compacted into the full backup ${r.backupId}`) +
    '\n' +
    fields([
      ['chain', `${bytes(r.chainBytes)} stored (base + deltas up to ${r.from})`],
      ['full', bytes(r.fullBytes)],
      ['targets', r.targets.join(', ')],
      ['lock', r.locked ? 'per-database lock held' : 'NOT held (--force)'],
      ['took', seconds(r.elapsedMs)],
      ['next', 'retention (prune) now deletes the links of the old chain that no kept backup needs'],
    ])
  );
}
