import { mkdir, readdir, rm, open, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from '@mfb/storage';

/**
 * Every scratch file the engine writes in `tmpDir` is named
 * `.mfb-tmp-<databaseId>.<backupId>.<role>` (plus SQLite's `-journal`/`-wal`/`-shm` beside
 * it), with the storage's one temp prefix. Database ids cannot contain `.`, so the prefix of
 * one database never matches another's, nor a storage temp name (`.mfb-tmp-<16 hex>-<name>`).
 */

export function tempPrefixFor(databaseId: string): string {
  return `${TEMP_PREFIX}${databaseId}.`;
}

export function tempPath(tmpDir: string, databaseId: string, backupId: string, role: string): string {
  return join(tmpDir, `${tempPrefixFor(databaseId)}${backupId}.${role}`);
}

/** Create `dir` (and parents) with mode 0700; an existing directory is left as it is. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Create an empty 0600 file (so SQLite, which creates 0644 files, inherits 0600). */
export async function createPrivateFile(path: string): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  await fh.close();
  await chmod(path, 0o600);
}

/** Remove a file and SQLite's sidecars; missing files are fine. */
export async function removeWithSidecars(path: string): Promise<void> {
  await Promise.all(['', '-journal', '-wal', '-shm'].map((s) => rm(path + s, { force: true })));
}

/**
 * Remove what a killed run left in `tmpDir` for `databaseId`. The caller must hold the
 * database's lock (no live run of the same database may be writing there).
 * Returns the number of files removed.
 */
export async function cleanupTempFiles(opts: { tmpDir: string; databaseId: string }): Promise<number> {
  let names: string[];
  try {
    names = await readdir(opts.tmpDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const prefix = tempPrefixFor(opts.databaseId);
  const mine = names.filter((n) => n.startsWith(prefix));
  await Promise.all(mine.map((n) => rm(join(opts.tmpDir, n), { force: true, recursive: true })));
  return mine.length;
}
