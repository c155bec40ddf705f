import { mkdtemp, rm, unlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackup, pinKeyFor, writePinMarker } from '@mfb/backup';
import type { Manifest } from '@mfb/backup';
import { LocalStorageDriver, TEMP_PREFIX } from '@mfb/storage';
import { openCatalog, rebuildFromStorage } from '../src/index.js';
import type { BackupRecord, SqliteCatalog } from '../src/index.js';

let dir: string;
let storage: LocalStorageDriver;
let catalogPath: string;
let cat: SqliteCatalog;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mfb-rebuild-'));
  storage = new LocalStorageDriver(path.join(dir, 'backups'));
  catalogPath = path.join(dir, 'catalog.db');
  cat = await openCatalog(catalogPath);
});
afterEach(async () => {
  await cat.close();
  await rm(dir, { recursive: true, force: true });
});

function makeDb(file: string, rows: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL, memo TEXT)');
  const ins = db.prepare('INSERT INTO tx (amount, memo) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) ins.run(i % 2 ? 100 : -100, `payment ${i}`);
  })();
  db.close();
}

async function backupOf(databaseId: string, at: Date): Promise<Manifest> {
  const src = path.join(dir, `${databaseId}.db`);
  const { existsSync } = await import('node:fs');
  if (!existsSync(src)) makeDb(src, 200);
  const r = await createBackup({
    databaseId,
    sourcePath: src,
    storage,
    compression: { algorithm: 'gzip', level: 1 },
    tmpDir: path.join(dir, 'tmp'),
    now: () => at,
  });
  return r.manifest;
}

function comparable(r: BackupRecord): unknown {
  return { ...r, locations: r.locations.map((l) => ({ target: l.target, artifactKey: l.artifactKey, deletedAt: l.deletedAt })) };
}

async function allRecords(): Promise<BackupRecord[]> {
  const out: BackupRecord[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: BackupRecord[]; nextCursor: string | null } = await cat.listBackups({ limit: 500, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

describe('rebuildFromStorage', () => {
  it('recreates the catalog from the manifests after the catalog is deleted, idempotently', async () => {
    const manifests: Manifest[] = [];
    for (let i = 0; i < 4; i++) manifests.push(await backupOf(i % 2 ? 'ledger' : 'finance', new Date(Date.parse('2026-06-01T00:00:00Z') + i * 3600_000)));
    for (const m of manifests) await cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    // Pinned as the API does: marker in storage first, then the catalog.
    await writePinMarker(storage, manifests[0]!.artifactKey, manifests[0]!.backupId);
    await cat.setPinned(manifests[0]!.backupId, true);
    const before = (await allRecords()).map(comparable);
    expect(before).toHaveLength(4);

    // Noise in storage: a manifest that is not JSON, a manifest without its artifact, an
    // unrelated file, and a temp file left by a killed writer.
    await storage.put('finance/garbage.sqlite.gz.manifest.json', Readable.from([Buffer.from('{not json')]));
    const orphan = { ...manifests[0]!, backupId: '20260101T000000000Z-deadbeef', artifactKey: 'finance/20260101T000000000Z-deadbeef.sqlite.gz' };
    await storage.put(`${orphan.artifactKey}.manifest.json`, Readable.from([Buffer.from(JSON.stringify(orphan))]));
    await storage.put('README.txt', Readable.from([Buffer.from('hello')]));
    await mkdir(path.join(storage.root, 'finance'), { recursive: true });
    await writeFile(path.join(storage.root, 'finance', `${TEMP_PREFIX}0123456789abcdef-x.manifest.json`), '{}');

    await cat.close();
    await unlink(catalogPath);
    await rm(catalogPath + '-wal', { force: true });
    await rm(catalogPath + '-shm', { force: true });
    cat = await openCatalog(catalogPath);
    expect(await allRecords()).toEqual([]);

    const report = await rebuildFromStorage(cat, storage, 'local');
    // The pin marker is neither a manifest (scanned) nor skipped noise.
    expect(report).toMatchObject({ target: 'local', scanned: 6, added: 4, updated: 0, markedDeleted: 0, pinsRestored: 1 });
    expect(report.skipped.map((s) => s.key).sort()).toEqual(['finance/20260101T000000000Z-deadbeef.sqlite.gz.manifest.json', 'finance/garbage.sqlite.gz.manifest.json']);
    expect(report.skipped.find((s) => s.key.includes('deadbeef'))!.reason).toContain('missing');
    expect((await allRecords()).map(comparable)).toEqual(before);

    const again = await rebuildFromStorage(cat, storage, 'local');
    expect(again).toMatchObject({ scanned: 6, added: 0, updated: 4, pinsRestored: 0 });
    expect((await allRecords()).map(comparable)).toEqual(before);
  });

  it('a pinned backup is pinned again after the catalog is lost and rebuilt; unpinned ones stay unpinned', async () => {
    const kept = await backupOf('finance', new Date('2026-06-01T00:00:00Z'));
    const other = await backupOf('finance', new Date('2026-06-02T00:00:00Z'));
    for (const m of [kept, other]) await cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    await writePinMarker(storage, kept.artifactKey, kept.backupId);
    await cat.setPinned(kept.backupId, true);
    expect(await storage.head(pinKeyFor(kept.artifactKey))).not.toBeNull();

    await cat.close();
    await rm(catalogPath, { force: true });
    await rm(catalogPath + '-wal', { force: true });
    await rm(catalogPath + '-shm', { force: true });
    cat = await openCatalog(catalogPath);
    expect(await cat.getBackup(kept.backupId)).toBeNull();

    const report = await rebuildFromStorage(cat, storage, 'local');
    expect(report).toMatchObject({ scanned: 2, added: 2, skipped: [], pinsRestored: 1 });
    expect((await cat.getBackup(kept.backupId))!.pinned).toBe(true);
    expect((await cat.getBackup(other.backupId))!.pinned).toBe(false);
  });

  it('records copies on a target and keeps pins and other copies of known backups', async () => {
    const m = await backupOf('finance', new Date('2026-06-01T00:00:00Z'));
    await cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    await cat.setPinned(m.backupId, true);
    const report = await rebuildFromStorage(cat, storage, 'nas');
    expect(report).toMatchObject({ added: 0, updated: 1 });
    const r = (await cat.getBackup(m.backupId))!;
    expect(r.pinned).toBe(true);
    expect(r.locations.map((l) => l.target).sort()).toEqual(['local', 'nas']);
  });

  it('markMissing marks copies whose artifact storage no longer has as deleted; prefix limits the scan', async () => {
    const a = await backupOf('finance', new Date('2026-06-01T00:00:00Z'));
    const b = await backupOf('finance', new Date('2026-06-02T00:00:00Z'));
    const c = await backupOf('ledger', new Date('2026-06-03T00:00:00Z'));
    await rebuildFromStorage(cat, storage, 'local');
    await storage.delete(a.artifactKey);
    await storage.delete(`${a.artifactKey}.manifest.json`);
    await storage.delete(c.artifactKey);
    await storage.delete(`${c.artifactKey}.manifest.json`);

    const plain = await rebuildFromStorage(cat, storage, 'local', { prefix: 'finance/' });
    expect(plain.markedDeleted).toBe(0);
    expect((await cat.getBackup(a.backupId))!.locations[0]!.deletedAt).toBeNull();

    const r = await rebuildFromStorage(cat, storage, 'local', { prefix: 'finance/', markMissing: true });
    expect(r).toMatchObject({ scanned: 1, updated: 1, markedDeleted: 1 });
    expect((await cat.getBackup(a.backupId))!.locations[0]!.deletedAt).not.toBeNull();
    expect((await cat.getBackup(b.backupId))!.locations[0]!.deletedAt).toBeNull();
    // ledger/ was outside the prefix: untouched although its files are gone.
    expect((await cat.getBackup(c.backupId))!.locations[0]!.deletedAt).toBeNull();
  });
});
