import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackup, verifyBackup } from '../src/index.js';
import { pageStreamUnavailable } from '../src/snapshot.js';
import { integrity, ledger, ls, makeLedgerDb, sandbox, type Sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

describe('streaming page snapshot (sqlite_dbpage)', () => {
  it('better-sqlite3 is built with sqlite_dbpage (the pnpm patch in patches/ was applied)', () => {
    // Without it every backup silently falls back to a full-size scratch copy: a lost patch
    // (a version bump, an install that skipped it) must fail here, not only in a benchmark.
    expect(pageStreamUnavailable()).toBeNull();
  });

  it('a WAL source: commits still only in the -wal are in the snapshot, which opens on its own (journal_mode delete) and is page-identical', async () => {
    const src = join(sb.dir, 'live.db');
    makeLedgerDb(src, { journal: 'wal', txs: 3000 });
    const app = new Database(src);
    try {
      // The app keeps its connection open and nothing checkpoints: these rows exist only in the -wal file.
      app.pragma('wal_autocheckpoint = 0');
      app.prepare("INSERT INTO accounts (id, name) VALUES (99, 'only in the wal')").run();
      const image = app.serialize();
      const res = await createBackup({ databaseId: 'live', sourcePath: src, storage: sb.storage, compression: { algorithm: 'none' }, tmpDir: sb.tmpDir });
      expect(res.snapshot).toBe('stream');
      expect(await ls(sb.tmpDir)).toEqual([]);
      // An unencrypted, uncompressed artifact is the snapshot itself.
      const copy = join(sb.dir, 'copy.db');
      await copyFile(join(sb.storageDir, res.manifest.artifactKey), copy);
      const bytes = await readFile(copy);
      expect(bytes.length).toBe(image.length);
      const ps = res.manifest.snapshot.sqlite.pageSize;
      // Every page but the first is the database's own bytes (as of the read transaction) ...
      expect(bytes.subarray(ps).equals(image.subarray(ps))).toBe(true);
      // ... and page 1 differs only in the header fields a self-contained rollback-journal file has.
      const p1 = Buffer.from(image.subarray(0, ps));
      p1[18] = 1;
      p1[19] = 1;
      p1.writeUInt32BE(image.length / ps, 28);
      p1.copy(p1, 92, 24, 28);
      expect(bytes.subarray(0, ps).equals(p1)).toBe(true);
      const db = new Database(copy, { readonly: true });
      try {
        expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
        expect(db.prepare('SELECT name FROM accounts WHERE id = 99').pluck().get()).toBe('only in the wal');
      } finally {
        db.close();
      }
      expect(integrity(copy)).toBe('ok');
      expect(ledger(copy).sum).toBe(0);
      expect(res.manifest.snapshot.tables).toEqual({ accounts: 15, entries: 6000 });
    } finally {
      app.close();
    }
  });

  it('an unchanged database gives a delta without a single page (page 1 is not rewritten by the snapshot)', async () => {
    const src = join(sb.dir, 'live.db');
    makeLedgerDb(src, { journal: 'wal', txs: 20_000 });
    const opts = { databaseId: 'live', sourcePath: src, storage: sb.storage, compression: { algorithm: 'gzip' as const }, tmpDir: sb.tmpDir, incremental: { minSizeBytes: 0 } };
    const full = await createBackup(opts);
    expect(full.manifest.kind).toBe('full');
    const same = await createBackup(opts);
    expect(same.manifest.kind).toBe('delta');
    expect(same.manifest.delta!.changedPages).toBe(0);
    const db = new Database(src);
    db.prepare('UPDATE entries SET memo = ? WHERE id = 5').run('changed');
    db.close();
    const one = await createBackup(opts);
    expect(one.manifest.delta!.changedPages).toBeGreaterThanOrEqual(1);
    expect(one.manifest.delta!.changedPages).toBeLessThanOrEqual(2);
    const v = await verifyBackup({ storage: sb.storage, artifactKey: one.manifest.artifactKey, keys: new Map(), tmpDir: sb.tmpDir });
    expect(v.integrity).toBe('ok');
    expect(v.tables.entries).toBe(40_000);
    expect(await ls(sb.tmpDir)).toEqual([]);
  });
});
