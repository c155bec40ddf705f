import { resolve } from 'node:path';
import { restoreBackup } from '@mfb/backup';
import { keyRingFor, resolveArtifact } from '../artifacts.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { fields, seconds } from '../format.js';
import { interruptSignal } from '../signals.js';
import { busyTimeoutMs } from './backup.js';
import { scratchDir, type KeyOptions } from './verify.js';

export interface RestoreCommandOptions extends KeyOptions {
  to?: string;
  replace?: boolean;
  safetyDir?: string;
  busyTimeout?: string;
}

/**
 * Restore a backup to `--to`: a new file (default; refuses to overwrite) or, with `--replace`,
 * into an existing (possibly live) database through SQLite's backup API after a safety copy.
 * Everything is checked before the target is touched.
 */
export async function runRestore(ctx: Context, ref: string, o: RestoreCommandOptions) {
  if (!o.to) throw new UsageError('restore needs --to <path>');
  const busy = busyTimeoutMs(o.busyTimeout);
  const art = await resolveArtifact(ctx, ref, o);
  const useConfig = art.via !== 'files' && !o.fromDir ? true : ctx.opts.config !== undefined;
  const scratch = await scratchDir(ctx, o, useConfig);
  const interrupt = interruptSignal();
  const started = Date.now();
  try {
    const keys = await keyRingFor(ctx, art, o.keyFile ?? [], useConfig);
    const res = await restoreBackup({
      storage: art.storage,
      artifactKey: art.artifactKey,
      keys,
      tmpDir: scratch.dir,
      targetPath: resolve(o.to),
      mode: o.replace ? 'replace' : 'new',
      ...(o.safetyDir ? { safetyCopyDir: resolve(o.safetyDir) } : {}),
      ...(busy !== undefined ? { busyTimeoutMs: busy } : {}),
      signal: interrupt.signal,
      onProgress: (p) => ctx.progress.update(p),
    });
    ctx.progress.done();
    return {
      ok: true,
      backupId: res.manifest.backupId,
      databaseId: res.manifest.databaseId,
      targetPath: res.targetPath,
      mode: o.replace ? 'replace' : 'new',
      safetyCopyPath: res.safetyCopyPath ?? null,
      integrity: res.integrity,
      tables: res.tables,
      elapsedMs: Date.now() - started,
    };
  } finally {
    interrupt.dispose();
    await scratch.release();
    await art.release();
  }
}

export function humanRestore(r: Awaited<ReturnType<typeof runRestore>>): string {
  return (
    `OK: backup ${r.backupId} of ${r.databaseId} restored to ${r.targetPath}\n` +
    fields([
      ['mode', r.mode],
      ['safety copy', r.safetyCopyPath ?? undefined],
      ['integrity', r.integrity],
      ['tables', String(Object.keys(r.tables).length)],
      ['took', seconds(r.elapsedMs)],
    ])
  );
}
