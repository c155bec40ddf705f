import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackup, verifyBackup } from '../src/index.js';
import { walFramePages } from '../src/direct-pages.js';
import { openPageStream, pageStreamUnavailable } from '../src/snapshot.js';
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
      normalisePage1(p1, image.length / ps);
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

/** Page 1 as the stream normalises it (docs/backup-format.md 6.1). */
function normalisePage1(image: Buffer, pageCount: number): void {
  image[18] = 1;
  image[19] = 1;
  image.writeUInt32BE(pageCount, 28);
  image.copy(image, 92, 24, 28);
}

describe('direct page reads (pages not in the WAL read with pread, direct-pages.ts)', () => {
  /** Stream the whole snapshot; `between` runs after the first block was taken (the reader is mid-file). */
  async function stream(src: string, directReads: boolean, between?: () => void): Promise<{ image: Buffer; direct: boolean }> {
    const s = await openPageStream({ sourcePath: src, directReads, blockBytes: 8 * 4096, maxInFlight: 1 });
    const parts: Buffer[] = [];
    for await (const b of s.blocks) {
      parts.push(Buffer.from(b.data));
      if (parts.length === 1) between?.();
      s.recycle(b.data.buffer);
    }
    const done = await s.done;
    return { image: Buffer.concat(parts), direct: (done as { direct?: boolean }).direct === true };
  }

  it('commits only in the WAL, and writes and checkpoints while the stream reads, give exactly the snapshot of its instant; the same as through sqlite_dbpage alone', async () => {
    const src = join(sb.dir, 'live.db');
    makeLedgerDb(src, { journal: 'wal', txs: 3000 });
    const app = new Database(src);
    try {
      app.pragma('wal_autocheckpoint = 0');
      // Rewrites pages that exist in the file: their newest versions are WAL frames only.
      app.prepare("UPDATE entries SET memo = 'in the wal ' || id WHERE id % 3 = 0").run();
      const expected = app.serialize();
      normalisePage1(expected, expected.length / 4096);
      let rounds = 0;
      const writeAndCheckpoint = (): void => {
        // After the snapshot started: more commits, and checkpoints that may copy only what the
        // reader's snapshot allows into the file the reader is reading.
        for (let i = 0; i < 3; i++) {
          app.prepare("UPDATE entries SET memo = 'after ' || id WHERE id % 5 = ?").run(i);
          app.pragma('wal_checkpoint(PASSIVE)');
          rounds++;
        }
      };
      const viaFile = await stream(src, true, writeAndCheckpoint);
      expect(rounds).toBe(3);
      expect(viaFile.direct).toBe(true);
      expect(viaFile.image.length).toBe(expected.length);
      expect(viaFile.image.equals(expected)).toBe(true);
      // Now (nothing running) both ways read the same, newer, snapshot.
      const a = await stream(src, true);
      const b = await stream(src, false);
      expect(b.direct).toBe(false);
      expect(a.image.equals(b.image)).toBe(true);
      expect(a.image.equals(expected)).toBe(false);
    } finally {
      app.close();
    }
  });

  it('a rollback-journal database reads entirely from the file; a WAL that is not one for this page size falls back to sqlite_dbpage', async () => {
    const src = join(sb.dir, 'plain.db');
    makeLedgerDb(src, { journal: 'delete', txs: 500 });
    const viaFile = await stream(src, true);
    expect(viaFile.direct).toBe(true);
    expect(viaFile.image.equals((await stream(src, false)).image)).toBe(true);
    expect(walFramePages(join(sb.dir, 'absent-wal'), 4096)).toEqual(new Set());
    const bogus = join(sb.dir, 'bogus-wal');
    await writeFile(bogus, Buffer.alloc(64, 1));
    expect(walFramePages(bogus, 4096)).toBeNull();
  });
});
