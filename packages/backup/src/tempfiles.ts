import { mkdir, readdir, rm, open, chmod, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from '@mfb/storage';
import { currentOwner, formatOwner, ownerState, parseOwner } from './owner.js';

/**
 * Every scratch file the engine writes in `tmpDir` is named
 * `.mfb-tmp-<databaseId>.<backupId>.<owner>.<role>` (plus SQLite's `-journal`/`-wal`/`-shm`
 * beside it), with the storage's one temp prefix and the writing process as `<owner>`
 * (owner.ts). Database ids cannot contain `.`, so the prefix of one database never matches
 * another's, nor a storage temp name (`.mfb-tmp-<16 hex>-<name>`).
 */

/**
 * A scratch file whose owner this process cannot see (another host or PID namespace sharing
 * the directory) is reclaimed once it has not been modified for this long; no backup, verify
 * or restore keeps a scratch file untouched for a day.
 */
export const UNKNOWN_OWNER_STALE_MS = 24 * 3600 * 1000;

export function tempPrefixFor(databaseId: string): string {
  return `${TEMP_PREFIX}${databaseId}.`;
}

export function tempPath(tmpDir: string, databaseId: string, backupId: string, role: string): string {
  return join(tmpDir, `${tempPrefixFor(databaseId)}${backupId}.${formatOwner(currentOwner())}.${role}`);
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

async function listScratch(tmpDir: string, prefix: string): Promise<string[]> {
  try {
    return (await readdir(tmpDir)).filter((n) => n.startsWith(prefix));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The owner part of a scratch name, or null for a name without one (written before owners were recorded). */
function ownerOf(name: string): ReturnType<typeof parseOwner> {
  // `<prefix><databaseId>.<backupId>.<owner>.<role>`: ids contain no `.`.
  return parseOwner(name.slice(TEMP_PREFIX.length).split('.')[2] ?? '');
}

async function staleUnknown(path: string, now: number): Promise<boolean> {
  const st = await lstat(path).catch(() => null);
  return st !== null && now - st.mtimeMs > UNKNOWN_OWNER_STALE_MS;
}

async function removeAll(tmpDir: string, names: string[]): Promise<number> {
  await Promise.all(names.map((n) => rm(join(tmpDir, n), { force: true, recursive: true })));
  return names.length;
}

/**
 * Remove what a killed run left in `tmpDir` for `databaseId`. The caller must hold the
 * database's lock, so everything is removed except files of another process that is provably
 * alive (a CLI run on this host that does not take the lock). Files of an owner this process
 * cannot see (another PID namespace: the same container restarted, another container sharing
 * the volume) go too, as they always did under the lock: waiting a day for them would leak a
 * snapshot per container restart. Returns the number of files removed.
 */
export async function cleanupTempFiles(opts: { tmpDir: string; databaseId: string }): Promise<number> {
  const me = formatOwner(currentOwner());
  const names = await listScratch(opts.tmpDir, tempPrefixFor(opts.databaseId));
  const doomed = names.filter((n) => {
    const owner = ownerOf(n);
    return owner === null || formatOwner(owner) === me || ownerState(owner) !== 'alive';
  });
  return removeAll(opts.tmpDir, doomed);
}

/**
 * Reclaim scratch files of every database in `tmpDir` whose writer is dead (a run killed
 * with SIGKILL, a crash, a reboot); needs no lock and never touches a file of a live process.
 * Files of an owner this process cannot judge go after {@link UNKNOWN_OWNER_STALE_MS}; files
 * without an owner are left to {@link cleanupTempFiles} under the lock. A file that cannot be
 * removed (permissions) is reported in `failed`, not thrown: it must not stop the run.
 */
export async function reclaimStaleScratch(tmpDir: string): Promise<{ files: number; bytes: number; failed: string[] }> {
  const now = Date.now();
  let files = 0;
  let bytes = 0;
  const failed: string[] = [];
  for (const n of await listScratch(tmpDir, TEMP_PREFIX)) {
    const owner = ownerOf(n);
    if (owner === null) continue;
    const state = ownerState(owner);
    const path = join(tmpDir, n);
    if (state === 'alive' || (state === 'unknown' && !(await staleUnknown(path, now)))) continue;
    const size = (await lstat(path).catch(() => null))?.size ?? 0;
    try {
      await rm(path, { force: true, recursive: true });
      files++;
      bytes += size;
    } catch (err) {
      failed.push(`${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return { files, bytes, failed };
}
