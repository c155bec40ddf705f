import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { currentOwner, formatOwner, ownerState, parseOwner } from './owner.js';
import { ensurePrivateDir } from './tempfiles.js';

/**
 * The per-database lock without Redis: a file `<dir>/.mfb-lock-<databaseId>` (dir = the
 * scratch directory the CLI and the workers share) created with O_EXCL, holding the owner
 * (host, boot, pid, start time: see owner.ts). It is stale once its owner is provably dead
 * (killed CLI, reboot) and is then taken over. A file of another host or PID namespace counts
 * as held: this process cannot tell whether it is alive.
 */
export const LOCAL_LOCK_PREFIX = '.mfb-lock-';

export interface LocalLockInfo {
  owner: string;
  pid: number;
  host: string;
  databaseId: string;
  since: string;
  /** What holds it (`backupctl backup`, ...). */
  what: string;
}

export interface LocalLock {
  readonly path: string;
  release(): Promise<void>;
}

export function localLockPath(dir: string, databaseId: string): string {
  return join(dir, `${LOCAL_LOCK_PREFIX}${databaseId}`);
}

async function readInfo(path: string): Promise<LocalLockInfo | null | 'missing'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const v = JSON.parse(text) as LocalLockInfo;
    return typeof v.owner === 'string' ? v : null;
  } catch {
    // Being written right now (created, not yet filled) or garbage.
    return null;
  }
}

/** The live holder of the local lock of `databaseId`, or null when it is free or stale. */
export async function localLockHolder(dir: string, databaseId: string): Promise<LocalLockInfo | null> {
  const info = await readInfo(localLockPath(dir, databaseId));
  if (info === 'missing') return null;
  if (info === null) return { owner: 'unknown', pid: 0, host: 'unknown', databaseId, since: '', what: 'unknown (unreadable lock file)' };
  const owner = parseOwner(info.owner);
  if (owner && ownerState(owner) === 'dead') return null;
  if (owner && formatOwner(owner) === formatOwner(currentOwner())) return null;
  return info;
}

/**
 * Take the local lock of `databaseId` in `dir`, taking over a stale one. Returns null (and the
 * live holder) when another live process holds it.
 */
export async function tryLocalLock(dir: string, databaseId: string, what: string): Promise<{ lock: LocalLock } | { holder: LocalLockInfo }> {
  await ensurePrivateDir(dir);
  const path = localLockPath(dir, databaseId);
  const me = formatOwner(currentOwner());
  const info: LocalLockInfo = { owner: me, pid: process.pid, host: hostname(), databaseId, since: new Date().toISOString(), what };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify(info) + '\n');
      } finally {
        await fh.close();
      }
      return {
        lock: {
          path,
          async release() {
            // Only our own file: a takeover after we were judged dead is someone else's.
            const now = await readInfo(path).catch(() => null);
            if (now !== 'missing' && now !== null && now.owner === me) await rm(path, { force: true });
          },
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await localLockHolder(dir, databaseId);
    if (holder) return { holder };
    // Stale: move it aside atomically (only one contender's rename finds it), check that what
    // was moved is really the stale file, and try again.
    const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
    try {
      await rename(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = await readInfo(aside);
    const movedOwner = moved !== 'missing' && moved !== null ? parseOwner(moved.owner) : null;
    if (movedOwner && ownerState(movedOwner) !== 'dead' && formatOwner(movedOwner) !== me) {
      // A contender took it over in between: put its lock back (link never replaces).
      await link(aside, path).catch(() => undefined);
      await rm(aside, { force: true });
      return { holder: moved as LocalLockInfo };
    }
    await rm(aside, { force: true });
  }
  const holder = await localLockHolder(dir, databaseId);
  return { holder: holder ?? { owner: 'unknown', pid: 0, host: 'unknown', databaseId, since: '', what: 'unknown (contended lock file)' } };
}
