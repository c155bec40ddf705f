import { rebuildFromStorage } from '@mfb/catalog';
import type { Context } from '../context.js';

/** Recreate catalog records from the manifests in primary storage. */
export async function runCatalogRebuild(ctx: Context) {
  const catalog = await ctx.catalog();
  const storage = await ctx.storage();
  const res = await rebuildFromStorage(catalog, storage);
  return { storage: storage.url, ...res };
}

export function humanCatalogRebuild(r: Awaited<ReturnType<typeof runCatalogRebuild>>): string {
  return `catalog rebuilt from ${r.storage}: ${JSON.stringify({ ...r, storage: undefined })}`;
}
