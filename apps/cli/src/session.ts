import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyRing, Progress } from '@mfb/backup';
import type { StorageDriver } from '@mfb/storage';
import { keyRingFor, resolveArtifact, type SourceOptions } from './artifacts.js';
import { prepareScratchDir, type Context } from './context.js';
import { interruptSignal } from './signals.js';

export interface KeyOptions extends SourceOptions {
  keyFile?: string[];
  tmpDir?: string;
}

/** What verify and restore hand to the engine, the same for both. */
export interface ArtifactSession {
  storage: StorageDriver;
  artifactKey: string;
  keys: KeyRing;
  tmpDir: string;
  signal: AbortSignal;
  onProgress: (p: Progress) => void;
}

/** Scratch directory: `--tmp-dir`, else the config's tmpDir, else a private dir under the OS temp dir. */
export async function scratchDir(ctx: Context, o: KeyOptions, useConfig: boolean): Promise<{ dir: string; release(): Promise<void> }> {
  if (o.tmpDir) {
    await prepareScratchDir(ctx, o.tmpDir);
    return { dir: o.tmpDir, release: async () => {} };
  }
  if (useConfig) {
    const cfg = await ctx.config();
    await prepareScratchDir(ctx, cfg.tmpDir);
    return { dir: cfg.tmpDir, release: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), 'backupctl-'));
  return { dir, release: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Resolve `ref` to an artifact (catalog, storage or files alone), gather its keys, a scratch
 * directory and a Ctrl-C signal, run `fn`, then release all of it whatever happened.
 */
export async function withArtifact<T>(ctx: Context, ref: string, o: KeyOptions, fn: (s: ArtifactSession) => Promise<T>): Promise<T> {
  const art = await resolveArtifact(ctx, ref, o);
  // Working from files alone needs no config unless one was named explicitly.
  const useConfig = art.via !== 'files' && !o.fromDir ? true : ctx.opts.config !== undefined;
  const scratch = await scratchDir(ctx, o, useConfig);
  const interrupt = interruptSignal();
  try {
    const keys = await keyRingFor(ctx, art, o.keyFile ?? [], useConfig);
    const result = await fn({
      storage: art.storage,
      artifactKey: art.artifactKey,
      keys,
      tmpDir: scratch.dir,
      signal: interrupt.signal,
      onProgress: (p) => ctx.progress.update(p),
    });
    ctx.progress.done();
    return result;
  } finally {
    interrupt.dispose();
    await scratch.release();
    await art.release();
  }
}
