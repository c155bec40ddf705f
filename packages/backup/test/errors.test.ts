import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '@mfb/errors';
import { openStorage } from '@mfb/storage';
import { canMountTmpfs, mountTmpfs } from '@mfb/testkit';
import { cleanupTempFiles, createBackup, takeSnapshot, manifestKeyFor, readManifest, restoreBackup, verifyBackup, type BackupOptions } from '../src/index.js';
import { KEY_A, KEY_B, ledger, ls, makeLedgerDb, sandbox, type Sandbox } from './helpers.js';

let sb: Sandbox;
const mounts: Array<() => void> = [];
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  for (const unmount of mounts.splice(0)) unmount();
  await sb.cleanup();
});

/** Small tmpfs (root only): a real ENOSPC / EROFS from the kernel, no mock. */
const canMount = canMountTmpfs('the disk-full and read-only tests of packages/backup/test/errors.test.ts');

async function tmpfs(dir: string, opts: { sizeKiB?: number; readOnly?: boolean } = {}): Promise<void> {
  mounts.push(mountTmpfs(dir, opts));
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

function opts(over: Partial<BackupOptions> = {}): BackupOptions {
  return { databaseId: 'finance', sourcePath: join(sb.dir, 'finance.db'), storage: sb.storage, compression: { algorithm: 'gzip' }, tmpDir: sb.tmpDir, ...over };
}

async function storedKeys(): Promise<string[]> {
  return (await sb.storage.list('')).items.map((i) => i.key);
}

async function nothingLeft(): Promise<void> {
  expect(await ls(sb.tmpDir)).toEqual([]);
  expect(await storedKeys()).toEqual([]);
}

describe('bad source', () => {
  it('missing database: BACKUP_SOURCE_NOT_FOUND (permanent)', async () => {
    const err = await rejection(createBackup(opts({ sourcePath: join(sb.dir, 'nope.db') })));
    expect(err.code).toBe('BACKUP_SOURCE_NOT_FOUND');
    expect(err.permanent).toBe(true);
    await nothingLeft();
  });

  it('unreadable source (a directory): BACKUP_SOURCE_UNREADABLE', async () => {
    await mkdir(join(sb.dir, 'finance.db'));
    const err = await rejection(createBackup(opts()));
    expect(err.code).toBe('BACKUP_SOURCE_UNREADABLE');
    expect(err.permanent).toBe(true);
    await nothingLeft();
  });

  it.skipIf(process.getuid?.() === 0)('unreadable source (mode 000): BACKUP_SOURCE_UNREADABLE', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 10 });
    const { chmod } = await import('node:fs/promises');
    await chmod(join(sb.dir, 'finance.db'), 0);
    expect((await rejection(createBackup(opts()))).code).toBe('BACKUP_SOURCE_UNREADABLE');
    await nothingLeft();
  });

  it('a file that is not SQLite (text, empty): BACKUP_NOT_SQLITE', async () => {
    await writeFile(join(sb.dir, 'finance.db'), 'date,amount\n2026-01-01,12.50\n'.repeat(100));
    let err = await rejection(createBackup(opts()));
    expect(err.code).toBe('BACKUP_NOT_SQLITE');
    expect(err.permanent).toBe(true);
    await writeFile(join(sb.dir, 'finance.db'), '');
    err = await rejection(createBackup(opts()));
    expect(err.code).toBe('BACKUP_NOT_SQLITE');
    await nothingLeft();
  });

  async function corruptDb(): Promise<Buffer> {
    const path = join(sb.dir, 'finance.db');
    makeLedgerDb(path, { txs: 5000, journal: 'delete' });
    // Overwrite a run of b-tree pages in the middle, keep the header.
    const fh = await open(path, 'r+');
    const garbage = Buffer.alloc(4096 * 8, 0x5a);
    await fh.write(garbage, 0, garbage.length, 4096 * 10);
    await fh.close();
    return readFile(path);
  }

  for (const method of ['stream', 'vacuum-into', 'backup-api'] as const) {
    it(`corrupt database (${method}): BACKUP_SOURCE_CORRUPT, source unchanged`, async () => {
      const before = await corruptDb();
      const err = await rejection(createBackup(opts({ snapshotMethod: method })));
      expect(err.code).toBe('BACKUP_SOURCE_CORRUPT');
      expect(err.permanent).toBe(true);
      expect((await readFile(join(sb.dir, 'finance.db'))).equals(before)).toBe(true);
      await nothingLeft();
    });
  }

  it('a damaged table page that the row counts do not read: caught by the quick_check of a small database, else stored and caught by verify (the restore drill)', async () => {
    const path = join(sb.dir, 'finance.db');
    makeLedgerDb(path, { txs: 5000, journal: 'delete' });
    // A leaf page of the entries table: count(*) walks the smaller index, never this page.
    const db = new Database(path);
    const leaf = db.prepare("SELECT pageno FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 3").pluck().get() as number;
    const ps = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const fh = await open(path, 'r+');
    await fh.write(Buffer.alloc(ps, 0x5a), 0, ps, (leaf - 1) * ps);
    await fh.close();
    // Default for a database below incremental.minSizeBytes: quick_check in the snapshot transaction.
    expect((await rejection(createBackup(opts()))).code).toBe('BACKUP_SOURCE_CORRUPT');
    await nothingLeft();
    // sourceCheck none (the default of formatVersion 2 sizes): stored; the scheduled verify fails it.
    const res = await createBackup(opts({ sourceCheck: 'none' }));
    const err = await rejection(verifyBackup({ storage: sb.storage, artifactKey: res.manifest.artifactKey, keys: new Map(), tmpDir: sb.tmpDir }));
    expect(err.code).toBe('BACKUP_INTEGRITY_CHECK_FAILED');
  });
});

describe('resources and cancellation', () => {
  it.skipIf(!canMount)('a full tmpDir does not matter to the streaming snapshot (no scratch copy): the backup is stored and restores', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 30_000 });
    await tmpfs(sb.tmpDir, { sizeKiB: 512 });
    const res = await createBackup(opts());
    expect(res.snapshot).toBe('stream');
    expect(res.manifest.snapshot.sizeBytes).toBeGreaterThan(1024 * 1024);
    expect(await ls(sb.tmpDir)).toEqual([]);
    expect((await verifyBackup({ storage: sb.storage, artifactKey: res.manifest.artifactKey, keys: new Map(), tmpDir: sb.dir })).integrity).toBe('ok');
  });

  it.skipIf(!canMount)('disk full in tmpDir (scratch-copy snapshot): BACKUP_DISK_FULL (permanent: a retry would fill it again), naming the dir, no temp files', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 30_000 });
    await tmpfs(sb.tmpDir, { sizeKiB: 512 });
    const err = await rejection(createBackup(opts({ snapshotMethod: 'vacuum-into' })));
    expect(err.code).toBe('BACKUP_DISK_FULL');
    expect(err.permanent).toBe(true);
    expect(err.message).toContain(sb.tmpDir);
    expect(err.message).toMatch(/not retried: free space/);
    await nothingLeft();
  });

  it.skipIf(!canMount)('disk full in storage: STORAGE_DISK_FULL as the storage said it (permanent), nothing stored, no temp files', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 30_000 });
    const storageDir = join(sb.dir, 'small-storage');
    await tmpfs(storageDir, { sizeKiB: 1024 });
    const storage = openStorage('file://' + storageDir);
    const err = await rejection(createBackup(opts({ storage, compression: { algorithm: 'none' } })));
    expect(err.code).toBe('STORAGE_DISK_FULL');
    expect(err.permanent).toBe(true);
    expect(await ls(sb.tmpDir)).toEqual([]);
    expect((await storage.list('')).items).toEqual([]);
    expect(await storage.cleanupIncomplete('')).toBe(0);
  });

  it('abort before start and while compressing: BACKUP_ABORTED (transient), nothing stored', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 30_000 });
    const early = new AbortController();
    early.abort();
    expect((await rejection(createBackup(opts({ signal: early.signal })))).code).toBe('BACKUP_ABORTED');

    for (const compression of [{ algorithm: 'gzip', level: 9 }, { algorithm: 'zstd', level: 19 }] as const) {
      const ac = new AbortController();
      const err = await rejection(
        createBackup(
          opts({
            signal: ac.signal,
            compression,
            encryption: { keyId: 'k1', key: KEY_A, chunkSize: 4096 },
            onProgress: (p) => {
              if (p.stage === 'compress') ac.abort();
            },
          }),
        ),
      );
      expect(err.code).toBe('BACKUP_ABORTED');
      expect(err.permanent).toBe(false);
      await nothingLeft();
    }
    expect(await sb.storage.cleanupIncomplete('')).toBe(0);
  });

  it('abort during the snapshot', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 30_000 });
    const ac = new AbortController();
    const err = await rejection(createBackup(opts({ signal: ac.signal, onProgress: (p) => p.stage === 'snapshot' && ac.abort() })));
    expect(err.code).toBe('BACKUP_ABORTED');
    await nothingLeft();
  });

  it('abort while the snapshot worker waits in SQLite: it stops at its next step, partial snapshot removed', async () => {
    const src = join(sb.dir, 'finance.db');
    makeLedgerDb(src, { txs: 1000, journal: 'delete' });
    // Another connection holds the database exclusively: the worker waits in SQLite's busy
    // handler, so the abort lands while it runs, whatever the machine's speed.
    const holder = new Database(src);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      await mkdir(sb.tmpDir, { recursive: true });
      const dest = join(sb.tmpDir, '.mfb-tmp-finance.x.snapshot.sqlite');
      const ac = new AbortController();
      const p = takeSnapshot({ sourcePath: src, destPath: dest, busyTimeoutMs: 1000, signal: ac.signal });
      setTimeout(() => ac.abort(), 100);
      expect((await rejection(p)).code).toBe('BACKUP_ABORTED');
      expect(await ls(sb.tmpDir)).toEqual([]);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });

  it('source locked longer than the busy timeout: BACKUP_SOURCE_BUSY (transient)', async () => {
    const src = join(sb.dir, 'finance.db');
    makeLedgerDb(src, { txs: 100, journal: 'delete' });
    const holder = new Database(src);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const err = await rejection(createBackup(opts({ busyTimeoutMs: 200 })));
      expect(err.code).toBe('BACKUP_SOURCE_BUSY');
      expect(err.permanent).toBe(false);
      await nothingLeft();
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });

  it('invalid options: BACKUP_INVALID_OPTIONS', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 10 });
    for (const o of [
      { compression: { algorithm: 'gzip' as const, level: 10 } },
      { compression: { algorithm: 'zstd' as const, level: 0 } },
      { compression: { algorithm: 'none' as const, level: 3 } },
      { databaseId: 'Bad/Id' },
      { encryption: { keyId: 'k', key: Buffer.alloc(31) } },
    ]) {
      expect((await rejection(createBackup(opts(o)))).code).toBe('BACKUP_INVALID_OPTIONS');
    }
    await nothingLeft();
  });
});

describe('restore/verify cancellation and disk full', () => {
  it('abort during fetch or verify: BACKUP_ABORTED, no temp files, no target', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 20_000 });
    const { manifest } = await createBackup(opts({ encryption: { keyId: 'k1', key: KEY_A } }));
    const keys = new Map([['k1', KEY_A]]);
    for (const stage of ['fetch', 'verify'] as const) {
      const ac = new AbortController();
      const target = join(sb.dir, `t-${stage}.db`);
      const err = await rejection(
        restoreBackup({ storage: sb.storage, artifactKey: manifest.artifactKey, keys, tmpDir: sb.tmpDir, targetPath: target, mode: 'new', signal: ac.signal, onProgress: (p) => p.stage === stage && ac.abort() }),
      );
      expect(err.code).toBe('BACKUP_ABORTED');
      await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await ls(sb.tmpDir)).toEqual([]);
    }
  });

  it.skipIf(!canMount)('disk full in tmpDir during restore: RESTORE_DISK_FULL (a restore, not a backup), no temp files, no target', async () => {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 30_000 });
    const { manifest } = await createBackup(opts());
    const small = join(sb.dir, 'small-tmp');
    await tmpfs(small, { sizeKiB: 1024 });
    const target = join(sb.dir, 'restored.db');
    const err = await rejection(restoreBackup({ storage: sb.storage, artifactKey: manifest.artifactKey, keys: new Map(), tmpDir: small, targetPath: target, mode: 'new' }));
    expect(err.code).toBe('RESTORE_DISK_FULL');
    expect(err.message).toContain(small);
    expect(err.permanent).toBe(true);
    expect(await ls(small)).toEqual([]);
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('cleanupTempFiles', () => {
  it('removes leftovers of one database only', async () => {
    await mkdir(sb.tmpDir, { recursive: true });
    for (const n of ['.mfb-tmp-a.20261126T124800123Z-00000000.snapshot.sqlite', '.mfb-tmp-a.20261126T124800123Z-00000000.snapshot.sqlite-journal', '.mfb-tmp-a-b.x.snapshot.sqlite', 'other'])
      await writeFile(join(sb.tmpDir, n), 'x');
    expect(await cleanupTempFiles({ tmpDir: sb.tmpDir, databaseId: 'a' })).toBe(2);
    expect(await ls(sb.tmpDir)).toEqual(['.mfb-tmp-a-b.x.snapshot.sqlite', 'other']);
    expect(await cleanupTempFiles({ tmpDir: join(sb.dir, 'missing'), databaseId: 'a' })).toBe(0);
  });
});

describe('bad artifacts and keys', () => {
  async function backup(encrypted = true): Promise<string> {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 2000 });
    const { manifest } = await createBackup(opts(encrypted ? { encryption: { keyId: 'k1', key: KEY_A } } : {}));
    return manifest.artifactKey;
  }
  const target = (): string => join(sb.dir, 'out', 'restored.db');

  async function expectRestoreFails(artifactKey: string, code: string, keys = new Map([['k1', KEY_A]])): Promise<void> {
    expect((await rejection(verifyBackup({ storage: sb.storage, artifactKey, keys, tmpDir: sb.tmpDir }))).code).toBe(code);
    expect((await rejection(restoreBackup({ storage: sb.storage, artifactKey, keys, tmpDir: sb.tmpDir, targetPath: target(), mode: 'new' }))).code).toBe(code);
    expect(await ls(sb.tmpDir)).toEqual([]);
    await expect(stat(target())).rejects.toMatchObject({ code: 'ENOENT' });
  }

  it('unknown key id and wrong key', async () => {
    const key = await backup();
    await expectRestoreFails(key, 'BACKUP_UNKNOWN_KEY_ID', new Map([['k2', KEY_A]]));
    await expectRestoreFails(key, 'BACKUP_WRONG_KEY', new Map([['k1', KEY_B]]));
  });

  it('manifest that is not JSON / not a manifest: BACKUP_MANIFEST_INVALID', async () => {
    const key = await backup();
    const mpath = join(sb.storageDir, manifestKeyFor(key));
    await writeFile(mpath, '{ not json');
    await expectRestoreFails(key, 'BACKUP_MANIFEST_INVALID');
    await writeFile(mpath, JSON.stringify({ formatVersion: 1, backupId: 'x' }));
    await expectRestoreFails(key, 'BACKUP_MANIFEST_INVALID');
    expect((await rejection(readManifest(sb.storage, key))).code).toBe('BACKUP_MANIFEST_INVALID');
  });

  it('manifest of another backup or with another size: BACKUP_MANIFEST_MISMATCH', async () => {
    const key = await backup();
    const m = JSON.parse(await readFile(join(sb.storageDir, manifestKeyFor(key)), 'utf8'));
    // Another backup's manifest put beside this artifact.
    const other = { ...m, backupId: m.backupId.replace(/-.{8}$/, '-ffffffff'), artifactKey: m.artifactKey.replace(/-.{8}\./, '-ffffffff.') };
    await writeFile(join(sb.storageDir, manifestKeyFor(key)), JSON.stringify(other));
    await expectRestoreFails(key, 'BACKUP_MANIFEST_MISMATCH');
    await writeFile(join(sb.storageDir, manifestKeyFor(key)), JSON.stringify({ ...m, artifact: { ...m.artifact, sizeBytes: m.artifact.sizeBytes + 1 } }));
    await expectRestoreFails(key, 'BACKUP_MANIFEST_MISMATCH');
  });

  it('artifact changed but same size: BACKUP_CHECKSUM_MISMATCH', async () => {
    const key = await backup(false);
    const p = join(sb.storageDir, key);
    const b = await readFile(p);
    b[b.length >> 1]! ^= 0xff;
    await writeFile(p, b);
    await expectRestoreFails(key, 'BACKUP_CHECKSUM_MISMATCH');
  });

  it('missing artifact or manifest: BACKUP_NOT_FOUND', async () => {
    const key = await backup();
    await sb.storage.delete(key);
    await expectRestoreFails(key, 'BACKUP_NOT_FOUND');
    await expectRestoreFails('finance/20261126T124800123Z-00000000.sqlite.gz', 'BACKUP_NOT_FOUND');
  });
});

describe('restore target problems', () => {
  async function backup(): Promise<string> {
    makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 2000 });
    return (await createBackup(opts())).manifest.artifactKey;
  }

  it('new mode, target exists: RESTORE_TARGET_EXISTS, file untouched', async () => {
    const key = await backup();
    const t = join(sb.dir, 'exists.db');
    await writeFile(t, 'precious');
    const err = await rejection(restoreBackup({ storage: sb.storage, artifactKey: key, keys: new Map(), tmpDir: sb.tmpDir, targetPath: t, mode: 'new' }));
    expect(err.code).toBe('RESTORE_TARGET_EXISTS');
    expect(err.permanent).toBe(true);
    expect(await readFile(t, 'utf8')).toBe('precious');
    expect(await ls(sb.tmpDir)).toEqual([]);
  });

  it('replace mode, target missing: RESTORE_TARGET_NOT_FOUND', async () => {
    const key = await backup();
    const err = await rejection(restoreBackup({ storage: sb.storage, artifactKey: key, keys: new Map(), tmpDir: sb.tmpDir, targetPath: join(sb.dir, 'nope.db'), mode: 'replace' }));
    expect(err.code).toBe('RESTORE_TARGET_NOT_FOUND');
  });

  for (const journal of ['wal', 'delete'] as const) {
    it(`replace mode, another connection holds a write lock (${journal}): RESTORE_TARGET_BUSY (transient), live db unchanged`, async () => {
      const key = await backup();
      const live = join(sb.dir, 'live.db');
      makeLedgerDb(live, { txs: 10, journal });
      const app = new Database(live);
      app.exec('BEGIN IMMEDIATE');
      app.exec("INSERT INTO entries (tx, account, amount, memo) VALUES (7, 1, 1, 'x'), (7, 8, -1, 'x')");
      try {
        const err = await rejection(
          restoreBackup({ storage: sb.storage, artifactKey: key, keys: new Map(), tmpDir: sb.tmpDir, targetPath: live, mode: 'replace', busyTimeoutMs: 300 }),
        );
        expect(err.code).toBe('RESTORE_TARGET_BUSY');
        expect(err.permanent).toBe(false);
        app.exec('COMMIT');
      } finally {
        app.close();
      }
      expect(ledger(live).entries).toBe(22);
      expect(await ls(sb.tmpDir)).toEqual([]);
    });
  }

  it.skipIf(!canMount)('new mode on a read-only filesystem: RESTORE_TARGET_NOT_WRITABLE', async () => {
    const key = await backup();
    const ro = join(sb.dir, 'ro');
    await tmpfs(ro, { readOnly: true });
    const err = await rejection(restoreBackup({ storage: sb.storage, artifactKey: key, keys: new Map(), tmpDir: sb.tmpDir, targetPath: join(ro, 'x.db'), mode: 'new' }));
    expect(err.code).toBe('RESTORE_TARGET_NOT_WRITABLE');
    expect(await readdir(ro)).toEqual([]);
    expect(await ls(sb.tmpDir)).toEqual([]);
  });

  it.skipIf(!canMount)('replace mode on a read-only filesystem: RESTORE_TARGET_NOT_WRITABLE, live db unchanged', async () => {
    const key = await backup();
    const dir = join(sb.dir, 'rodb');
    await tmpfs(dir);
    makeLedgerDb(join(dir, 'live.db'), { txs: 10, journal: 'delete' });
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const err = await rejection(restoreBackup({ storage: sb.storage, artifactKey: key, keys: new Map(), tmpDir: sb.tmpDir, targetPath: join(dir, 'live.db'), mode: 'replace', safetyCopyDir: join(sb.dir, 'safety') }));
    expect(err.code).toBe('RESTORE_TARGET_NOT_WRITABLE');
    expect(ledger(join(dir, 'live.db')).entries).toBe(20);
  });

  it('replace into a directory that cannot be written (immutable, even for root): RESTORE_TARGET_NOT_WRITABLE, not a raw EACCES/EPERM, live db unchanged', async (t) => {
    const key = await backup();
    const dir = join(sb.dir, 'frozen');
    await mkdir(dir);
    makeLedgerDb(join(dir, 'live.db'), { txs: 10, journal: 'delete' });
    try {
      execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
    } catch {
      t.skip('chattr +i is not supported here (needs root on ext4/tmpfs)');
      return;
    }
    try {
      const err = await rejection(restoreBackup({ storage: sb.storage, artifactKey: key, keys: new Map(), tmpDir: sb.tmpDir, targetPath: join(dir, 'live.db'), mode: 'replace' }));
      expect(err.code).toBe('RESTORE_TARGET_NOT_WRITABLE');
      expect(err.message).toContain('.pre-restore');
    } finally {
      execFileSync('chattr', ['-i', dir]);
    }
    expect(ledger(join(dir, 'live.db')).entries).toBe(20);
    expect(await ls(sb.tmpDir)).toEqual([]);
  });
});
