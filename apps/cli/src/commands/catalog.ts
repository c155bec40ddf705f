import { rebuildFromStorage } from '@mfb/catalog';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { fields } from '../format.js';

export interface RebuildCommandOptions {
  from?: string;
  /** The older spelling of `from`, kept as an alias. */
  target?: string;
  markMissing?: boolean;
}

/**
 * Recreate catalog records from the manifests in storage (primary storage, or a configured
 * target with `--from`; `--target` is an alias). Idempotent.
 */
export async function runCatalogRebuild(ctx: Context, o: RebuildCommandOptions = {}) {
  if (o.from !== undefined && o.target !== undefined && o.from !== o.target) throw new UsageError('--target is an alias of --from: give one of them');
  const target = o.from ?? o.target ?? 'local';
  // The target is opened and probed before the catalog is opened: an unknown name
  // (TARGET_NOT_FOUND), a missing bucket or refused credentials create nothing.
  const storage = await ctx.storage(target);
  await storage.list('', { limit: 1 });
  const catalog = await ctx.catalog();
  const report = await rebuildFromStorage(catalog, storage, target, { markMissing: Boolean(o.markMissing) });
  return { storage: storage.url, ...report };
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
