import { setTimeout as sleep } from 'node:timers/promises';
import { deleteCopy, rekeyBackup, UnknownKeyIdError, type RekeyCopy, type RekeyStep } from '@mfb/backup';
import type { BackupRecord, Catalog } from '@mfb/catalog';
import type { Config, DatabaseConfig } from '@mfb/config';
import { BackupNotFoundError } from '@mfb/errors';
import { prepareScratchDir, type Context } from '../context.js';
import { UsageError } from '../errors.js';
import { withDatabaseLock } from '../lock.js';
import { fields, seconds, table } from '../format.js';
import { interruptSignal } from '../signals.js';

export interface RekeyCliOptions {
  backup?: string;
  all?: boolean;
  toKey?: string;
  /** Go on without the per-database lock when Redis cannot be reached (no worker may run). */
  force?: boolean;
  /** TEST-ONLY: stop (and wait to be killed) after this step. */
  testOnlyPauseAt?: string;
}

export interface RekeyItem {
  from: string;
  /** The new backup; equal to `from` when nothing was done. */
  backupId: string;
  /** `skipped`: an incremental (formatVersion 2) backup, left alone (see docs/operations.md, Key rotation). */
  outcome: 'rekeyed' | 'unchanged' | 'completed' | 'skipped';
  fromKey: string | null;
  targets: string[];
}

export interface RekeyReport {
  databaseId: string;
  toKey: string;
  locked: boolean;
  items: RekeyItem[];
  elapsedMs: number;
}

const STEPS: readonly RekeyStep[] = ['encrypted', 'verified', 'copied', 'recorded', 'old-deleted'];

async function liveBackups(catalog: Catalog, databaseId: string): Promise<BackupRecord[]> {
  const out: BackupRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await catalog.listBackups({ databaseId, status: 'available', limit: 500, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

/** The copies to re-encrypt: live ones, the primary storage first. */
async function copiesOf(ctx: Context, config: Config, rec: BackupRecord): Promise<RekeyCopy[]> {
  const live = rec.locations.filter((l) => l.deletedAt === null).sort((a, b) => (a.target === 'local' ? -1 : b.target === 'local' ? 1 : a.target.localeCompare(b.target)));
  const out: RekeyCopy[] = [];
  for (const l of live) {
    const cls = config.targets.find((t) => t.name === l.target)?.options?.storageClass;
    out.push({ target: l.target, storage: await ctx.storage(l.target), artifactKey: l.artifactKey, ...(typeof cls === 'string' ? { storageClass: cls } : {}) });
  }
  return out;
}

/**
 * `rekey <db> (--backup <id> | --all) --to-key <id>`: re-encrypt existing backups with another
 * configured key (the engine's `rekeyBackup`: streamed, the new backup proven, old copies
 * deleted only after that, in every storage that held them). Runs under the workers'
 * per-database lock (`withDatabaseLock`); without Redis only with `--force`.
 *
 * A rekeyed backup gets a new id (same time stamp). A run killed after the new backup was
 * recorded but before every old copy was deleted is finished by running the command again.
 */
export async function runRekey(ctx: Context, databaseId: string, o: RekeyCliOptions): Promise<RekeyReport> {
  const started = Date.now();
  const toKey = o.toKey;
  if (!toKey) throw new UsageError('--to-key <id> is required');
  if (Boolean(o.backup) === Boolean(o.all)) throw new UsageError('give exactly one of --backup <id> or --all');
  const pauseAt = o.testOnlyPauseAt as RekeyStep | undefined;
  if (pauseAt !== undefined && !STEPS.includes(pauseAt)) throw new UsageError(`--test-only-pause-at must be one of ${STEPS.join(', ')}`);
  const config = await ctx.config();
  const db = await ctx.database(databaseId);
  if (!config.keys.has(toKey)) throw new UnknownKeyIdError(toKey);
  const catalog = await ctx.catalog();

  return withDatabaseLock(ctx, db.id, { ...(o.force ? { force: true } : {}), what: 'backupctl rekey', requireRedis: true }, async (lock) => {
    const interrupt = interruptSignal();
    const signal = AbortSignal.any([interrupt.signal, lock.signal]);
    try {
      await prepareScratchDir(ctx, config.tmpDir);
      const all = await liveBackups(catalog, db.id);
      let todo: BackupRecord[];
      if (o.backup) {
        const rec = all.find((b) => b.backupId === o.backup) ?? (await catalog.getBackup(o.backup));
        if (!rec || rec.databaseId !== db.id || !rec.locations.some((l) => l.deletedAt === null)) throw new BackupNotFoundError(o.backup, { databaseId: db.id });
        todo = [rec];
      } else {
        todo = all;
      }
      const items: RekeyItem[] = [];
      for (const rec of todo) items.push(await rekeyOne(ctx, config, catalog, db, rec, all, toKey, signal, pauseAt, !o.backup));
      ctx.progress.done();
      return { databaseId: db.id, toKey, locked: lock.kind !== 'forced', items, elapsedMs: Date.now() - started };
    } finally {
      interrupt.dispose();
    }
  });
}

async function rekeyOne(
  ctx: Context,
  config: Config,
  catalog: Catalog,
  db: DatabaseConfig,
  rec: BackupRecord,
  all: readonly BackupRecord[],
  toKey: string,
  signal: AbortSignal,
  pauseAt: RekeyStep | undefined,
  skipIncremental: boolean,
): Promise<RekeyItem> {
  const fromKey = rec.manifest.encryption?.keyId ?? null;
  const copies = await copiesOf(ctx, config, rec);
  const targets = copies.map((c) => c.target);
  if (fromKey === toKey) return { from: rec.backupId, backupId: rec.backupId, outcome: 'unchanged', fromKey, targets };
  if (rec.manifest.formatVersion !== 1 && skipIncremental) return { from: rec.backupId, backupId: rec.backupId, outcome: 'skipped', fromKey, targets };
  // An earlier run recorded the successor but was stopped before deleting every old copy.
  const successor = all.find((b) => b.manifest.rekeyedFrom === rec.backupId && b.manifest.encryption?.keyId === toKey);
  if (successor) {
    for (const c of copies) {
      await deleteCopy(c.storage, c.artifactKey, () => catalog.markLocationDeleted(rec.backupId, c.target));
    }
    return { from: rec.backupId, backupId: successor.backupId, outcome: 'completed', fromKey, targets };
  }
  const res = await rekeyBackup({
    copies,
    keys: config.keys,
    toKeyId: toKey,
    pinned: rec.pinned,
    tmpDir: config.tmpDir,
    signal,
    onProgress: (p) => ctx.progress.update(p),
    onNewBackup: async (manifest, created) => {
      const [first, ...rest] = created;
      await catalog.recordBackup(manifest, { target: first!.target, artifactKey: first!.artifactKey, storageClass: first!.storageClass });
      for (const c of rest) await catalog.addLocation(manifest.backupId, { target: c.target, artifactKey: c.artifactKey, storageClass: c.storageClass });
      if (rec.pinned) await catalog.setPinned(manifest.backupId, true);
    },
    onOldCopyDeleted: (target) => catalog.markLocationDeleted(rec.backupId, target),
    onStep: async (step) => {
      if (step !== pauseAt) return;
      process.stderr.write(`test-only: paused after ${step}\n`);
      for (;;) await sleep(60_000);
    },
  });
  return { from: rec.backupId, backupId: res.backupId, outcome: res.unchanged ? 'unchanged' : 'rekeyed', fromKey, targets };
}

export function humanRekey(r: RekeyReport): string {
  const rows = r.items.map((i) => [i.from, i.fromKey ?? '(none)', i.outcome === 'unchanged' ? '-' : i.backupId, i.outcome, i.targets.join(', ')]);
  const done = r.items.filter((i) => i.outcome === 'rekeyed' || i.outcome === 'completed').length;
  const skipped = r.items.filter((i) => i.outcome === 'skipped').length;
  return (
    `OK: ${done} backup(s) of ${r.databaseId} re-encrypted with key ${r.toKey}` +
    (r.items.length - done - skipped > 0 ? ` (${r.items.length - done - skipped} already were)` : '') +
    (skipped > 0 ? `; ${skipped} incremental backup(s) skipped: take a full backup with the new key (backup --full) and let retention remove their chains` : '') +
    '\n' +
    fields([
      ['lock', r.locked ? 'per-database lock held' : 'NOT held (--force, Redis unreachable)'],
      ['took', seconds(r.elapsedMs)],
    ]) +
    (rows.length ? '\n\n' + table(['BACKUP', 'OLD KEY', 'NEW BACKUP', 'OUTCOME', 'TARGETS'], rows) : '')
  );
}
