import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBackup } from '@mfb/backup';
import { keyRingFor, resolveArtifact, type SourceOptions } from '../artifacts.js';
import { ensurePrivateDirs, type Context } from '../context.js';
import { fields, seconds } from '../format.js';
import { interruptSignal } from '../signals.js';

export interface KeyOptions extends SourceOptions {
  keyFile?: string[];
  tmpDir?: string;
}

/** Scratch directory: `--tmp-dir`, else the config's tmpDir, else a private dir under the OS temp dir. */
export async function scratchDir(ctx: Context, o: KeyOptions, useConfig: boolean): Promise<{ dir: string; release(): Promise<void> }> {
  if (o.tmpDir) {
    await ensurePrivateDirs([o.tmpDir]);
    return { dir: o.tmpDir, release: async () => {} };
  }
  if (useConfig) {
    const cfg = await ctx.config();
    await ensurePrivateDirs([cfg.tmpDir]);
    return { dir: cfg.tmpDir, release: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), 'backupctl-'));
  return { dir, release: () => rm(dir, { recursive: true, force: true }) };
}

/** Verify a backup: checksums, authentication, decompression, integrity_check; no target touched. */
export async function runVerify(ctx: Context, ref: string, o: KeyOptions) {
  const art = await resolveArtifact(ctx, ref, o);
  const useConfig = art.via !== 'files' && !o.fromDir ? true : ctx.opts.config !== undefined;
  const scratch = await scratchDir(ctx, o, useConfig);
  const interrupt = interruptSignal();
  const started = Date.now();
  try {
    const keys = await keyRingFor(ctx, art, o.keyFile ?? [], useConfig);
    const res = await verifyBackup({
      storage: art.storage,
      artifactKey: art.artifactKey,
      keys,
      tmpDir: scratch.dir,
      signal: interrupt.signal,
      onProgress: (p) => ctx.progress.update(p),
    });
    ctx.progress.done();
    return {
      ok: true,
      backupId: res.manifest.backupId,
      databaseId: res.manifest.databaseId,
      artifactKey: res.manifest.artifactKey,
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

export function humanVerify(r: Awaited<ReturnType<typeof runVerify>>): string {
  const rows = Object.entries(r.tables).reduce((a, [, n]) => a + n, 0);
  return (
    `OK: backup ${r.backupId} of ${r.databaseId} verified (checksums, authentication, integrity_check ${r.integrity})\n` +
    fields([
      ['artifact', r.artifactKey],
      ['tables', `${Object.keys(r.tables).length} (${rows} rows)`],
      ['took', seconds(r.elapsedMs)],
    ])
  );
}
