import { rebuildFromStorage } from '@mfb/catalog';
import type { Context } from '../context.js';
import { fields } from '../format.js';

export interface RebuildCommandOptions {
  target?: string;
  markMissing?: boolean;
}

/**
 * Recreate catalog records from the manifests in storage (primary storage, or a configured
 * target with `--target`). Idempotent.
 */
export async function runCatalogRebuild(ctx: Context, o: RebuildCommandOptions = {}) {
  const catalog = await ctx.catalog();
  const target = o.target ?? 'local';
  const storage = await ctx.storage(target);
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
