import { createHash } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compactBackup, compactedBackupId, createBackup, readManifest, restoreBackup, verifyBackup, type BackupOptions } from '../src/index.js';
import { KEY_A, KEY_B, integrity, ledger, ls, makeLedgerDb, sandbox, type Sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

const fileSha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

function opts(src: string, extra: Partial<BackupOptions> = {}): BackupOptions {
  return {
    databaseId: 'cmp',
    sourcePath: src,
    storage: sb.storage,
    compression: { algorithm: 'zstd', level: 1 },
    encryption: { keyId: 'a', key: KEY_A, chunkSize: 4096 },
    tmpDir: sb.tmpDir,
    incremental: { minSizeBytes: 0, fullEvery: 100, maxChainRatio: 100 },
    ...extra,
  };
}

function write(path: string, n: number): void {
  const db = new Database(path);
  try {
    db.prepare('UPDATE entries SET memo = memo || ? WHERE id % ? = 0').run(`e${n}`, 37 + n);
    db.prepare("INSERT INTO entries (tx, account, amount, memo) VALUES (?, 1, -5, 'x'), (?, 8, 5, 'x')").run(100_000 + n, 100_000 + n);
  } finally {
    db.close();
  }
}

describe('compaction: a delta chain merged into a new full without the live database', () => {
  it('the compacted full restores byte-identical to the delta, from a new key, after the source is gone; the next backup chains on it', async () => {
    const src = join(sb.dir, 'live.db');
    makeLedgerDb(src, { journal: 'wal', txs: 3000 });
    const full = await createBackup(opts(src));
    write(src, 1);
    await createBackup(opts(src));
    write(src, 2);
    const d2 = (await createBackup(opts(src))).manifest;
    expect(d2).toMatchObject({ kind: 'delta', chainLength: 2 });
    const expectedLedger = ledger(src);

    // The live database is not read: it is not there any more.
    await rename(src, `${src}.away`);
    const keys = new Map([['a', KEY_A]]);
    const res = await compactBackup({
      storage: sb.storage,
      artifactKey: d2.artifactKey,
      keys,
      compression: { algorithm: 'gzip', level: 6 },
      encryption: { keyId: 'b', key: KEY_B },
      tmpDir: sb.tmpDir,
    });
    const c = res.manifest;
    expect(c).toMatchObject({ formatVersion: 3, kind: 'full', parentId: null, chainLength: 0, compactedFrom: d2.backupId, createdAt: d2.createdAt });
    expect(c.chain).toEqual({ baseId: c.backupId, baseArtifactBytes: c.artifact.sizeBytes, deltaArtifactBytes: 0 });
    expect(c.snapshot).toEqual(d2.snapshot);
    expect(c.encryption?.keyId).toBe('b');
    expect(c.artifactKey).toBe(`cmp/${c.backupId}.sqlite.gz.enc`);
    expect(c.backupId > d2.backupId).toBe(true);
    expect(c.backupId.slice(0, 19)).toBe(d2.backupId.slice(0, 19));
    expect(await readManifest(sb.storage, c.artifactKey)).toEqual(c);

    // Restores on its own (no chain): with key b only.
    const target = join(sb.dir, 'restored.db');
    const r = await restoreBackup({ storage: sb.storage, artifactKey: c.artifactKey, keys: new Map([['b', KEY_B]]), tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
    expect(r.integrity).toBe('ok');
    expect(integrity(target)).toBe('ok');
    expect(ledger(target)).toEqual(expectedLedger);
    // Byte-identical to what the delta restores (WAL mode is given back by both).
    const viaDelta = join(sb.dir, 'via-delta.db');
    await restoreBackup({ storage: sb.storage, artifactKey: d2.artifactKey, keys, tmpDir: sb.tmpDir, targetPath: viaDelta, mode: 'new' });
    expect(await fileSha(target)).toBe(await fileSha(viaDelta));
    // Nothing of the chain changed; scratch is clean.
    expect((await verifyBackup({ storage: sb.storage, artifactKey: d2.artifactKey, keys, tmpDir: sb.tmpDir })).integrity).toBe('ok');
    expect(await readManifest(sb.storage, full.manifest.artifactKey)).toEqual(full.manifest);
    expect(await ls(sb.tmpDir)).toEqual([]);

    // The next backup (same key b as the compacted full) is a delta of the compacted full.
    await rename(`${src}.away`, src);
    write(src, 3);
    const next = await createBackup(opts(src, { encryption: { keyId: 'b', key: KEY_B } }));
    expect(next.manifest).toMatchObject({ kind: 'delta', parentId: c.backupId, chainLength: 1 });
  });

  it('unencrypted, same compression; a full is refused (nothing to compact), a wrong key fails and leaves nothing behind', async () => {
    const src = join(sb.dir, 'live.db');
    makeLedgerDb(src, { journal: 'delete', txs: 1000 });
    const plain = { encryption: undefined } as Partial<BackupOptions>;
    const f = (await createBackup({ ...opts(src), ...plain })).manifest;
    write(src, 1);
    const d = (await createBackup({ ...opts(src), ...plain })).manifest;
    const before = await ls(join(sb.storageDir, 'cmp'));
    const base = { storage: sb.storage, keys: new Map(), compression: { algorithm: 'zstd' as const, level: 1 }, tmpDir: sb.tmpDir };
    await expect(compactBackup({ ...base, artifactKey: f.artifactKey })).rejects.toMatchObject({ code: 'BACKUP_INVALID_OPTIONS' });
    const res = await compactBackup({ ...base, artifactKey: d.artifactKey });
    expect(res.manifest).toMatchObject({ kind: 'full', encryption: null, compactedFrom: d.backupId });
    expect(res.manifest.snapshot.sha256).toBe(d.snapshot.sha256);
    const after = await ls(join(sb.storageDir, 'cmp'));
    expect(after.filter((k) => !before.includes(k)).sort()).toEqual(
      [`${res.manifest.backupId}.pagemap`, `${res.manifest.backupId}.sqlite.zst`, `${res.manifest.backupId}.sqlite.zst.manifest.json`].sort(),
    );

    // An encrypted chain without its key: the chain's check fails before anything is written.
    const e1 = (await createBackup(opts(src))).manifest;
    write(src, 2);
    const e2 = (await createBackup(opts(src))).manifest;
    expect(e2.kind).toBe('delta');
    const listed = await ls(join(sb.storageDir, 'cmp'));
    await expect(compactBackup({ ...base, artifactKey: e2.artifactKey, keys: new Map([['a', KEY_B]]) })).rejects.toBeTruthy();
    expect(await ls(join(sb.storageDir, 'cmp'))).toEqual(listed);
    expect(e1.kind).toBe('full');
  });

  it('compacted ids sort right after the delta, with the same time stamp', () => {
    const id = '20261201T120000000Z-0000000a';
    for (let i = 0; i < 50; i++) {
      const c = compactedBackupId(id, '2026-12-01T12:00:00.000Z');
      expect(c > id).toBe(true);
      expect(c.slice(0, 20)).toBe(id.slice(0, 20));
    }
    expect(compactedBackupId('20261201T120000000Z-fffffffe', '2026-12-01T12:00:00.000Z')).toBe('20261201T120000000Z-ffffffff');
    expect(compactedBackupId('20261201T120000000Z-ffffffff', '2026-12-01T12:00:00.000Z').slice(0, 20)).toBe('20261201T120000001Z-');
  });
});
