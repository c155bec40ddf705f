import { resolve } from 'node:path';
import { RestoreTargetBusyError, restoreBackup } from '@mfb/backup';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { fields, seconds } from '../format.js';
import { busyTimeoutMs } from './backup.js';
import { lockOptions, withDatabaseLock, type CliLock } from '../lock.js';
import { withArtifact, type KeyOptions } from '../session.js';

export interface RestoreCommandOptions extends KeyOptions {
  to?: string;
  replace?: boolean;
  safetyDir?: string;
  busyTimeout?: string;
  force?: boolean;
  lockWait?: string;
}

/** The configured database whose file is `targetPath` (restore --replace takes its lock), if any. */
async function configuredDatabaseAt(ctx: Context, targetPath: string): Promise<string | undefined> {
  const cfg = await ctx.config().catch(() => null);
  return cfg?.databases.find((d) => resolve(d.path) === targetPath)?.id;
}

/**
 * Restore a backup to `--to`: a new file (default; refuses to overwrite) or, with `--replace`,
 * into an existing (possibly live) database through SQLite's backup API after a safety copy.
 * Everything is checked before the target is touched.
 */
export async function runRestore(ctx: Context, ref: string, o: RestoreCommandOptions) {
  if (!o.to) throw new UsageError('restore needs --to <path>');
  busyTimeoutMs(o.busyTimeout);
  const targetPath = resolve(o.to);
  const started = Date.now();
  const databaseId = o.replace ? await configuredDatabaseAt(ctx, targetPath) : undefined;
  try {
    if (databaseId === undefined) return await restore(ctx, ref, o, targetPath, started);
    return await withDatabaseLock(ctx, databaseId, { ...lockOptions(o), what: 'backupctl restore --replace' }, (lock) =>
      restore(ctx, ref, o, targetPath, started, lock),
    );
  } catch (err) {
    if (err instanceof RestoreTargetBusyError) {
      const waited = err.details?.['busyTimeoutMs'];
      throw new RestoreTargetBusyError(targetPath, {
        cause: err,
        ...(typeof waited === 'number' ? { busyTimeoutMs: waited } : {}),
        hint: 'the application kept it locked; wait longer with --busy-timeout <seconds> (up to 3600), or stop the application first',
      });
    }
    throw err;
  }
}

async function restore(ctx: Context, ref: string, o: RestoreCommandOptions, targetPath: string, started: number, lock?: CliLock) {
  const busy = busyTimeoutMs(o.busyTimeout);
  return withArtifact(ctx, ref, o, async (session) => {
    const res = await restoreBackup({
      ...session,
      ...(lock ? { signal: AbortSignal.any([session.signal, lock.signal]), fence: lock.fence } : {}),
      targetPath,
      mode: o.replace ? 'replace' : 'new',
      ...(o.safetyDir ? { safetyCopyDir: resolve(o.safetyDir) } : {}),
      ...(busy !== undefined ? { busyTimeoutMs: busy } : {}),
    });
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
  });
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
