import { resolve } from 'node:path';
import { MANIFEST_SUFFIX } from '@mfb/backup';
import { rebuildFromStorage } from '@mfb/catalog';
import { openStorage, type StorageDriver } from '@mfb/storage';
import type { Context } from '../context.js';
import { RebuildFoundNothingError, UsageError } from '../errors.js';
import { fields } from '../format.js';

export interface RebuildCommandOptions {
  from?: string;
  /** A backup folder (a copy of a storage directory) or storage URL, recorded as primary storage. */
  fromDir?: string;
  /** The older spelling of `from`, kept as an alias. */
  target?: string;
  markMissing?: boolean;
}

/**
 * Recreate catalog records from the manifests in storage (primary storage, a configured
 * target with `--from` (`--target` is an alias), or a backup folder with `--from-dir`, whose
 * copies are recorded as primary storage). Idempotent. No manifest at all fails
 * (CLI_REBUILD_NOTHING_FOUND) before any catalog is created.
 */
export async function runCatalogRebuild(ctx: Context, o: RebuildCommandOptions = {}) {
  if (o.from !== undefined && o.target !== undefined && o.from !== o.target) throw new UsageError('--target is an alias of --from: give one of them');
  if (o.fromDir !== undefined && (o.from ?? o.target) !== undefined) throw new UsageError('give either --from <target> or --from-dir <dir>, not both');
  const target = o.from ?? o.target ?? 'local';
  // The target is opened and probed before the catalog is opened: an unknown name
  // (TARGET_NOT_FOUND), a missing bucket or refused credentials create nothing, and a place
  // without a single manifest (a wrong or empty directory) fails loudly and creates nothing.
  const storage = o.fromDir !== undefined ? openStorage(/^[a-z][a-z0-9+.-]*:\/\//i.test(o.fromDir) ? o.fromDir : resolve(o.fromDir)) : await ctx.storage(target);
  if (!(await hasManifest(storage))) throw new RebuildFoundNothingError(storage.url);
  const catalog = await ctx.writableCatalog();
  const report = await rebuildFromStorage(catalog, storage, target, { markMissing: Boolean(o.markMissing) });
  return { storage: storage.url, ...report };
}

async function hasManifest(storage: StorageDriver): Promise<boolean> {
  let cursor: string | undefined;
  do {
    const page = await storage.list('', cursor !== undefined ? { cursor } : {});
    if (page.items.some((i) => i.key.endsWith(MANIFEST_SUFFIX))) return true;
    cursor = page.cursor;
  } while (cursor !== undefined);
  return false;
}

export function humanCatalogRebuild(r: Awaited<ReturnType<typeof runCatalogRebuild>>): string {
  const out = fields([
    ['storage', `${r.storage} (target ${r.target})`],
    ['manifests', r.scanned],
    ['added', r.added],
    ['updated', r.updated],
    ['marked deleted', r.markedDeleted],
    ['pins restored', r.pinsRestored],
    ['skipped', r.skipped.length],
  ]);
  return r.skipped.length ? `${out}\n${r.skipped.map((s) => `  skipped ${s.key}: ${s.reason}`).join('\n')}` : out;
}

export interface MigrateCommandOptions {
  from: string;
  to: string;
}

/** `sqlite:/path/catalog.db`, a bare path, or `postgres://...[?schema=x]`. */
async function openCatalogAt(where: string) {
  const { openCatalog, openPostgresCatalog } = await import('@mfb/catalog');
  if (/^postgres(ql)?:\/\//.test(where)) {
    const u = new URL(where);
    const schema = u.searchParams.get('schema');
    u.searchParams.delete('schema');
    return openPostgresCatalog(u.href, schema ? { schema } : {});
  }
  const file = where.replace(/^sqlite:(\/\/)?/, '');
  if (file === '') throw new UsageError(`--from/--to: "${where}" is neither sqlite:<file> nor postgres://...`);
  return openCatalog(file);
}

/**
 * Move a catalog to another store (`--from sqlite:data/catalog.db --to postgres://...`): every
 * backup with its copies, pins, schedules and recent job history. The source is only read; the
 * destination is migrated first; running it again finishes an interrupted move.
 */
export async function runCatalogMigrate(o: MigrateCommandOptions) {
  const { existsSync } = await import('node:fs');
  const { copyCatalog } = await import('@mfb/catalog');
  const { redactUrl } = await import('@mfb/errors');
  const srcFile = /^postgres(ql)?:\/\//.test(o.from) ? null : o.from.replace(/^sqlite:(\/\/)?/, '');
  // Opening a missing SQLite file would create an empty catalog and "move" nothing.
  if (srcFile !== null && !existsSync(srcFile)) throw new UsageError(`--from: no catalog at ${srcFile}`);
  if (o.from === o.to) throw new UsageError('--from and --to name the same catalog');
  const from = await openCatalogAt(o.from);
  try {
    const to = await openCatalogAt(o.to);
    try {
      const report = await copyCatalog(from, to);
      return { from: redactUrl(o.from), to: redactUrl(o.to), ...report };
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}

export function humanCatalogMigrate(r: Awaited<ReturnType<typeof runCatalogMigrate>>): string {
  return fields([
    ['from', r.from],
    ['to', r.to],
    ['backups', r.backups],
    ['copies', `${r.copies} (${r.deletedCopies} deleted, ${r.deletingCopies} left half-deleted by a killed prune)`],
    ['pinned', r.pinned],
    ['schedules', r.schedules],
    ['job history', r.jobs],
    ['restore drills', r.drills],
    ['config key ids', r.configKeyIds],
  ]);
}
