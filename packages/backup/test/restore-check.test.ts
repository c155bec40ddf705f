import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@mfb/errors';
import { createBackup, manifestKeyFor, restoreBackup, verifyBackup, type Manifest } from '../src/index.js';
import { checkDatabase } from '../src/restore-io.js';
import { ls, makeLedgerDb, sandbox, type Sandbox } from './helpers.js';

/**
 * The restore's database check (integrity_check, spread over two SQLite threads on a machine
 * with two cores from 64 MiB on) finds what one `PRAGMA integrity_check` finds, also damage that
 * `quick_check` alone misses, and a damaged artifact streamed from storage is still named by
 * its checksum. The stored artifacts here are rewritten with a consistent manifest (as an
 * attacker or a faulty writer could), so only the database check stands between them and
 * the target.
 */
let sb: Sandbox;
let m: Manifest;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  sb = await sandbox();
  makeLedgerDb(join(sb.dir, 'finance.db'), { journal: 'delete', txs: 3000 });
  const r = await createBackup({ databaseId: 'finance', sourcePath: join(sb.dir, 'finance.db'), storage: sb.storage, compression: { algorithm: 'none' }, tmpDir: sb.tmpDir });
  m = r.manifest;
});
afterAll(async () => {
  await sb.cleanup();
});

/** Store `db` (a database file's bytes) as the artifact, its manifest rewritten to match. */
async function storeDatabase(db: Buffer): Promise<void> {
  await writeFile(join(sb.storageDir, m.artifactKey), db);
  const j = { ...m, artifact: { sizeBytes: db.length, sha256: sha(db) }, snapshot: { ...m.snapshot, sizeBytes: db.length, sha256: sha(db) } };
  delete j.snapshot.tables;
  await writeFile(join(sb.storageDir, manifestKeyFor(m.artifactKey)), JSON.stringify(j));
}

/** A copy of the ledger database damaged by `damage`, as bytes. */
async function damaged(name: string, damage: (db: Database.Database, path: string) => void | Promise<void>): Promise<Buffer> {
  const path = join(sb.dir, `${name}.db`);
  makeLedgerDb(path, { journal: 'delete', txs: 3000 });
  const db = new Database(path);
  await damage(db, path);
  if (db.open) db.close();
  return readFile(path);
}

function quickCheck(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return String(db.pragma('quick_check', { simple: true }));
  } finally {
    db.close();
  }
}

/**
 * Restore and verify fail with BACKUP_INTEGRITY_CHECK_FAILED (these small databases are
 * checked by one thread), and so does the check split over two threads that restores of
 * databases from 64 MiB on use (forced here for a small file).
 */
async function expectIntegrityFailure(bytes: Buffer): Promise<AppError> {
  const file = join(sb.dir, `split-${Math.random().toString(16).slice(2)}.db`);
  await writeFile(file, bytes);
  const split = await checkDatabase(file, undefined, 0).catch((e: unknown) => e);
  expect(split).toMatchObject({ code: 'BACKUP_INTEGRITY_CHECK_FAILED' });
  await storeDatabase(bytes);
  const target = join(sb.dir, 'targets', `t${Math.random().toString(16).slice(2)}.db`);
  const err = await restoreBackup({ storage: sb.storage, artifactKey: m.artifactKey, keys: new Map(), tmpDir: sb.tmpDir, targetPath: target, mode: 'new' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('BACKUP_INTEGRITY_CHECK_FAILED');
  await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  await expect(verifyBackup({ storage: sb.storage, artifactKey: m.artifactKey, keys: new Map(), tmpDir: sb.tmpDir })).rejects.toMatchObject({ code: 'BACKUP_INTEGRITY_CHECK_FAILED' });
  expect(await ls(sb.tmpDir)).toEqual([]);
  return err as AppError;
}

describe('the database check of a restore', () => {
  it('sanity: the undamaged database restores', async () => {
    await storeDatabase(await damaged('fine', () => {}));
    const r = await restoreBackup({ storage: sb.storage, artifactKey: m.artifactKey, keys: new Map(), tmpDir: sb.tmpDir, targetPath: join(sb.dir, 'fine-restored.db'), mode: 'new' });
    expect(r.integrity).toBe('ok');
    expect(r.tables).toEqual({ accounts: 14, entries: 6000 });
    expect(await checkDatabase(join(sb.dir, 'fine.db'), undefined, 0)).toEqual({ accounts: 14, entries: 6000 });
  });

  it('an index whose entries do not match their rows (quick_check passes, integrity_check does not)', async () => {
    // An index built on column `aa` whose schema (patched in the file) says `bb`: same entry
    // count and a sound b-tree, but no entry matches its row.
    const bytes = await damaged('index', (db) => {
      db.exec('CREATE TABLE pairs (id INTEGER PRIMARY KEY, aa INTEGER NOT NULL, bb INTEGER NOT NULL); CREATE INDEX pairs_x ON pairs(aa);');
      db.exec('INSERT INTO pairs (aa, bb) SELECT id, -id FROM entries LIMIT 500');
    });
    const at = bytes.indexOf('ON pairs(aa)');
    expect(at).toBeGreaterThan(0);
    bytes.write('ON pairs(bb)', at, 'latin1');
    await writeFile(join(sb.dir, 'index.db'), bytes);
    expect(quickCheck(join(sb.dir, 'index.db'))).toBe('ok');
    const err = await expectIntegrityFailure(bytes);
    expect(err.message).toMatch(/missing from index pairs_x/);
    await expect(checkDatabase(join(sb.dir, 'index.db'), undefined, 0)).rejects.toThrow(/missing from index pairs_x/);
  });

  it('pages that no b-tree and no freelist holds (the whole-file page accounting)', async () => {
    const bytes = await damaged('orphan', (db) => {
      db.exec("CREATE TABLE big (x TEXT); INSERT INTO big SELECT printf('%.2000c', 'x') FROM entries LIMIT 400; DROP TABLE big;");
      expect(Number(db.pragma('freelist_count', { simple: true }))).toBeGreaterThan(10);
    });
    // Forget the freelist in the header (first trunk page and count): its pages are now used by nothing.
    bytes.writeUInt32BE(0, 32);
    bytes.writeUInt32BE(0, 36);
    const err = await expectIntegrityFailure(bytes);
    expect(err.message).toMatch(/never used/);
    await writeFile(join(sb.dir, 'orphan.db'), bytes);
    await expect(checkDatabase(join(sb.dir, 'orphan.db'), undefined, 0)).rejects.toThrow(/never used/);
  });

  it('a byte flipped in a stored unencrypted artifact is a checksum mismatch, found while streaming', async () => {
    const good = await damaged('flip', () => {});
    await storeDatabase(good);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)]! ^= 0x10;
    await writeFile(join(sb.storageDir, m.artifactKey), bad);
    const target = join(sb.dir, 'flip-restored.db');
    await expect(restoreBackup({ storage: sb.storage, artifactKey: m.artifactKey, keys: new Map(), tmpDir: sb.tmpDir, targetPath: target, mode: 'new' })).rejects.toMatchObject({
      code: 'BACKUP_CHECKSUM_MISMATCH',
      details: { what: 'artifact' },
    });
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await ls(sb.tmpDir)).toEqual([]);
  });
});

describe('the snapshot digest of a restored full (checked alongside the database check)', () => {
  for (const v of [1, 3] as const) {
    it(`formatVersion ${v}: an authentic artifact whose image is not the manifest's snapshot is refused; nothing is placed, no scratch is left`, async () => {
      const s = await sandbox();
      try {
        const src = join(s.dir, 'db.sqlite');
        makeLedgerDb(src, { journal: 'delete', txs: 800 });
        const { manifest } = await createBackup({
          databaseId: 'digest',
          sourcePath: src,
          storage: s.storage,
          compression: { algorithm: 'gzip' },
          tmpDir: s.tmpDir,
          incremental: { minSizeBytes: v === 1 ? Number.MAX_SAFE_INTEGER : 0 },
        });
        expect(manifest.formatVersion).toBe(v);
        // The artifact stays as stored (its SHA-256 proves it); only the recorded snapshot digest differs.
        const j = { ...manifest, snapshot: { ...manifest.snapshot, sha256: 'ab'.repeat(32) } };
        await writeFile(join(s.storageDir, manifestKeyFor(manifest.artifactKey)), JSON.stringify(j));
        const target = join(s.dir, 'restored.db');
        await expect(restoreBackup({ storage: s.storage, artifactKey: manifest.artifactKey, keys: new Map(), tmpDir: s.tmpDir, targetPath: target, mode: 'new' })).rejects.toMatchObject({
          code: 'BACKUP_CHECKSUM_MISMATCH',
        });
        await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
        expect(await ls(s.tmpDir)).toEqual([]);
        await expect(verifyBackup({ storage: s.storage, artifactKey: manifest.artifactKey, keys: new Map(), tmpDir: s.tmpDir })).rejects.toMatchObject({ code: 'BACKUP_CHECKSUM_MISMATCH' });
      } finally {
        await s.cleanup();
      }
    });
  }
});
