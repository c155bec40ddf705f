/**
 * A target added mid-chain: uploading a delta first uploads the links of its chain the target
 * lacks (full base first), each recorded as a copy, so the delta restores from that target.
 * Real engine, catalog and two file targets.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyBackup, createBackup, restoreBackup, type Manifest } from '@mfb/backup';
import { openCatalog, type SqliteCatalog } from '@mfb/catalog';
import type { DatabaseConfig, TargetConfig } from '@mfb/config';
import { createLogger, createMetrics } from '@mfb/observability';
import { LocalStorageDriver } from '@mfb/storage';
import type { HandlerContext } from '../src/context.js';
import { uploadHandler } from '../src/handlers/upload.handler.js';

let dir: string;
let src: string;
let catalog: SqliteCatalog;
let primary: LocalStorageDriver;
const targets = new Map<string, LocalStorageDriver>();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-upload-chain-'));
  src = join(dir, 'finance.db');
  const db = new Database(src);
  db.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, memo TEXT)');
  const ins = db.prepare('INSERT INTO tx (memo) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) ins.run(`payment ${i} ${'x'.repeat(i % 50)}`);
  })();
  db.close();
  primary = new LocalStorageDriver(join(dir, 'backups'));
  for (const t of ['nas', 'offsite']) targets.set(t, new LocalStorageDriver(join(dir, t)));
  catalog = await openCatalog(join(dir, 'catalog.db'));
});
afterEach(async () => {
  await catalog.close();
  await rm(dir, { recursive: true, force: true });
});

async function backup(n: number): Promise<Manifest> {
  if (n > 0) {
    const db = new Database(src);
    db.prepare('INSERT INTO tx (memo) VALUES (?)').run(`change ${n}`);
    db.close();
  }
  const { manifest } = await createBackup({
    databaseId: 'finance',
    sourcePath: src,
    storage: primary,
    compression: { algorithm: 'gzip', level: 1 },
    tmpDir: join(dir, 'tmp'),
    incremental: { minSizeBytes: 0 },
  });
  await catalog.recordBackup(manifest, { target: 'local', artifactKey: manifest.artifactKey });
  return manifest;
}

function ctx(backupId: string, target: string): HandlerContext<'upload', 'catalog' | 'primary' | 'storageFor' | 'targets' | 'metrics' | 'followUp'> {
  const cfg: TargetConfig[] = [...targets.keys()].map((name) => ({ name, url: `file://${join(dir, name)}`, retention: { keepLast: 2 } }));
  return {
    payload: { databaseId: 'finance', backupId, target },
    fence: () => undefined,
    database: { id: 'finance' } as DatabaseConfig,
    log: createLogger('test', { level: 'silent' }),
    signal: new AbortController().signal,
    progress: () => undefined,
    catalog,
    primary,
    storageFor: (name) => targets.get(name) ?? primary,
    targets: cfg,
    metrics: createMetrics(undefined, { defaults: false }),
    followUp: (name) => `${name}.x`,
  };
}

const liveOn = async (id: string): Promise<string[]> =>
  ((await catalog.getBackup(id))?.locations ?? []).filter((l) => l.deletedAt === null).map((l) => l.target).sort();

describe('upload of a delta to a target that lacks its parents', () => {
  it('uploads the missing links first, base first, recorded as copies; the delta then restores from each target', async () => {
    const full = await backup(0);
    // nas was there from the start: it holds the full.
    await copyBackup(primary, targets.get('nas')!, full);
    await catalog.addLocation(full.backupId, { target: 'nas', artifactKey: full.artifactKey });
    const d1 = await backup(1);
    const d2 = await backup(2);
    expect(d2).toMatchObject({ kind: 'delta', parentId: d1.backupId, chainLength: 2 });

    // offsite is new: it gets full, d1, then d2.
    const r = (await uploadHandler(ctx(d2.backupId, 'offsite'))) as { parents?: string[] };
    expect(r.parents).toEqual([full.backupId, d1.backupId]);
    for (const m of [full, d1, d2]) expect(await liveOn(m.backupId)).toContain('offsite');
    // nas has the full already: only d1 goes before d2.
    const n = (await uploadHandler(ctx(d2.backupId, 'nas'))) as { parents?: string[] };
    expect(n.parents).toEqual([d1.backupId]);
    expect(await liveOn(d1.backupId)).toEqual(['local', 'nas', 'offsite']);

    for (const t of ['offsite', 'nas']) {
      const out = join(dir, `restored-${t}.db`);
      const res = await restoreBackup({ storage: targets.get(t)!, artifactKey: d2.artifactKey, keys: new Map(), tmpDir: join(dir, 'tmp'), targetPath: out, mode: 'new' });
      expect(res.integrity).toBe('ok');
      expect(res.manifest.snapshot.sha256).toBe(d2.snapshot.sha256);
    }

    // The next delta: its chain is on the target already, nothing else is uploaded.
    const d3 = await backup(3);
    const r3 = (await uploadHandler(ctx(d3.backupId, 'offsite'))) as { parents?: string[] };
    expect(r3.parents).toBeUndefined();
  }, 180_000);
});
