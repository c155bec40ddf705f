/**
 * `incremental.compactOnPrune`: a prune of the primary storage first compacts a delta that
 * retention keeps by a rule while its whole chain is kept only for it, so the chain goes in
 * the same prune; and `compactRecorded` (shared with `backupctl compact`) is idempotent. Real
 * engine, catalog and storage.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { copyBackup, createBackup, restoreBackup, type Manifest } from '@mfb/backup';
import { openCatalog, type Catalog } from '@mfb/catalog';
import type { DatabaseConfig } from '@mfb/config';
import { createLogger, createMetrics } from '@mfb/observability';
import { LocalStorageDriver } from '@mfb/storage';
import { compactRecorded, createStorages, planTargetRetention } from '@mfb/runtime';
import { pruneHandler } from '../src/handlers/prune.handler.js';
import { tempDir, testConfig } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const DAY = 86_400_000;

describe('prune with incremental.compactOnPrune', () => {
  it('compacts the kept delta of a closed chain, then deletes that chain; the newest chain is left alone', async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const src = join(tmp.dir, 'a.sqlite');
    const sdb = new Database(src);
    sdb.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, memo TEXT)');
    const ins = sdb.prepare('INSERT INTO tx (memo) VALUES (?)');
    sdb.transaction(() => {
      for (let i = 0; i < 3000; i++) ins.run(`payment ${i} ${'x'.repeat(i % 50)}`);
    })();
    sdb.close();
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: src }] });
    const catalog: Catalog = await openCatalog(config.catalogPath);
    cleanups.push(() => catalog.close());
    const storages = createStorages(config);
    const primary = storages.storageFor('local');
    const off: DatabaseConfig = { ...config.databases[0]!, retention: { keepDaily: 2 }, incremental: { minSizeBytes: 0, fullEvery: 10 } };

    // day 1: full f1, deltas d1, d2; day 2: full f2 (forced), delta d3.
    const day1 = Date.parse('2026-11-20T08:00:00Z');
    let n = 0;
    const backup = async (at: number, forceFull = false): Promise<Manifest> => {
      if (n > 0) {
        const db = new Database(src);
        db.prepare('INSERT INTO tx (memo) VALUES (?)').run(`change ${n}`);
        db.close();
      }
      n++;
      const { manifest } = await createBackup({
        databaseId: 'a',
        sourcePath: src,
        storage: primary,
        compression: { algorithm: 'gzip', level: 1 },
        tmpDir: config.tmpDir,
        incremental: { ...off.incremental, forceFull },
        now: () => new Date(at),
      });
      await catalog.recordBackup(manifest, { target: 'local', artifactKey: manifest.artifactKey });
      return manifest;
    };
    const f1 = await backup(day1);
    const d1 = await backup(day1 + 3600_000);
    const d2 = await backup(day1 + 7200_000);
    const f2 = await backup(day1 + DAY, true);
    const d3 = await backup(day1 + DAY + 3600_000);
    expect([f1.kind, d1.kind, d2.kind, f2.kind, d3.kind]).toEqual(['full', 'delta', 'delta', 'full', 'delta']);

    const now = new Date(day1 + DAY + 2 * 3600_000);
    // keepDaily 2 keeps d3 and d2; f1 and d1 only because d2 needs them.
    const before = (await planTargetRetention({ config, catalog }, off, 'local', now)).view;
    expect(before.items.filter((i) => i.action === 'keep').map((i) => i.backupId)).toEqual([d3.backupId, f2.backupId, d2.backupId, d1.backupId, f1.backupId]);

    const prune = async (database: DatabaseConfig) =>
      (await pruneHandler({
        payload: { databaseId: 'a', target: 'local' },
        database,
        log: createLogger('prune-test', { level: 'silent' }),
        signal: new AbortController().signal,
        fence: () => undefined,
        progress: () => {},
        catalog,
        storageFor: storages.storageFor,
        keys: config.keys,
        tmpDir: config.tmpDir,
        targets: config.targets,
        metrics: createMetrics(),
        followUp: () => {
          throw new Error('nothing chained');
        },
      })) as { deleted: string[]; compacted?: Array<{ from: string; backupId: string }> };

    // Without the option nothing changes.
    expect((await prune(off)).deleted).toEqual([]);

    const on: DatabaseConfig = { ...off, incremental: { ...off.incremental, compactOnPrune: true } };
    const r = await prune(on);
    expect(r.compacted?.map((c) => c.from)).toEqual([d2.backupId]);
    const c = r.compacted![0]!.backupId;
    expect(r.deleted.sort()).toEqual([f1.backupId, d1.backupId, d2.backupId].sort());
    const live = (await catalog.listBackups({ databaseId: 'a', target: 'local', status: 'available' })).items.map((b) => b.backupId);
    expect(live).toEqual([d3.backupId, f2.backupId, c]);
    // The compacted full is d2's snapshot.
    const out = join(tmp.dir, 'restored.sqlite');
    const res = await restoreBackup({ storage: primary, artifactKey: (await catalog.getBackup(c))!.manifest.artifactKey, keys: new Map(), tmpDir: config.tmpDir, targetPath: out, mode: 'new' });
    expect(res.manifest.snapshot.sha256).toBe(d2.snapshot.sha256);
    expect(res.integrity).toBe('ok');
    // A second prune has nothing to compact or delete.
    const again = await prune(on);
    expect(again.compacted).toBeUndefined();
    expect(again.deleted).toEqual([]);
  }, 240_000);

  it('compactRecorded is idempotent, and copies an earlier compaction to a target that got the delta since', async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const src = join(tmp.dir, 'b.sqlite');
    const sdb = new Database(src);
    sdb.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, memo TEXT)');
    sdb.transaction(() => {
      for (let i = 0; i < 2000; i++) sdb.prepare('INSERT INTO tx (memo) VALUES (?)').run(`p ${i} ${'y'.repeat(i % 40)}`);
    })();
    sdb.close();
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'b', path: src }] });
    const catalog: Catalog = await openCatalog(config.catalogPath);
    cleanups.push(() => catalog.close());
    const primary = createStorages(config).storageFor('local');
    const nas = new LocalStorageDriver(join(tmp.dir, 'nas'));
    const db: DatabaseConfig = { ...config.databases[0]!, incremental: { minSizeBytes: 0 } };
    const backup = async (): Promise<Manifest> => {
      const { manifest } = await createBackup({ databaseId: 'b', sourcePath: src, storage: primary, compression: { algorithm: 'gzip', level: 1 }, tmpDir: config.tmpDir, incremental: { minSizeBytes: 0 } });
      await catalog.recordBackup(manifest, { target: 'local', artifactKey: manifest.artifactKey });
      return manifest;
    };
    await backup();
    const w = new Database(src);
    w.prepare('INSERT INTO tx (memo) VALUES (?)').run('change');
    w.close();
    const d = await backup();
    expect(d.kind).toBe('delta');
    const deps = { catalog, storageFor: (t: string) => (t === 'nas' ? nas : primary), keys: config.keys, tmpDir: config.tmpDir };
    const first = await compactRecorded(deps, db, (await catalog.getBackup(d.backupId))!);
    expect(first).toMatchObject({ already: false, targets: ['local'] });

    // The delta reaches nas afterwards (an upload that ran late): compacting again copies the full there.
    await copyBackup(primary, nas, d);
    await catalog.addLocation(d.backupId, { target: 'nas', artifactKey: d.artifactKey });
    const again = await compactRecorded(deps, db, (await catalog.getBackup(d.backupId))!);
    expect(again).toMatchObject({ already: true, backupId: first.backupId, targets: ['local', 'nas'] });
    const c = (await catalog.getBackup(first.backupId))!;
    expect(c.locations.filter((l) => l.deletedAt === null).map((l) => l.target).sort()).toEqual(['local', 'nas']);
    const out = join(tmp.dir, 'from-nas.sqlite');
    const res = await restoreBackup({ storage: nas, artifactKey: c.manifest.artifactKey, keys: new Map(), tmpDir: config.tmpDir, targetPath: out, mode: 'new' });
    expect(res.manifest.snapshot.sha256).toBe(d.snapshot.sha256);
  }, 240_000);
});
