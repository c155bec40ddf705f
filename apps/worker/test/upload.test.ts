import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackup, hasPinMarker, manifestKeyFor, type Manifest } from '@mfb/backup';
import { openCatalog, type SqliteCatalog } from '@mfb/catalog';
import type { DatabaseConfig, TargetConfig } from '@mfb/config';
import { createLogger, createMetrics } from '@mfb/observability';
import { LocalStorageDriver } from '@mfb/storage';
import type { HandlerContext } from '../src/context.js';
import { uploadHandler } from '../src/handlers/upload.handler.js';

let dir: string;
let catalog: SqliteCatalog;
let primary: LocalStorageDriver;
let offsite: LocalStorageDriver;
let manifest: Manifest;
const followUps: Array<{ name: string; payload: unknown }> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-upload-'));
  const src = join(dir, 'finance.db');
  const db = new Database(src);
  db.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, memo TEXT)');
  const ins = db.prepare('INSERT INTO tx (memo) VALUES (?)');
  for (let i = 0; i < 500; i++) ins.run(`payment ${i} ${'x'.repeat(i % 50)}`);
  db.close();
  primary = new LocalStorageDriver(join(dir, 'backups'));
  offsite = new LocalStorageDriver(join(dir, 'offsite'));
  catalog = await openCatalog(join(dir, 'catalog.db'));
  manifest = (await createBackup({ databaseId: 'finance', sourcePath: src, storage: primary, compression: { algorithm: 'gzip', level: 1 }, tmpDir: join(dir, 'tmp') })).manifest;
  await catalog.recordBackup(manifest, { target: 'local', artifactKey: manifest.artifactKey });
  followUps.length = 0;
});
afterEach(async () => {
  await catalog.close();
  await rm(dir, { recursive: true, force: true });
});

function ctx(): HandlerContext<'upload', 'catalog' | 'primary' | 'storageFor' | 'targets' | 'metrics' | 'followUp'> {
  const target: TargetConfig = { name: 'offsite', url: `file://${join(dir, 'offsite')}`, retention: { keepLast: 2 } };
  return {
    payload: { databaseId: 'finance', backupId: manifest.backupId, target: 'offsite' },
    fence: () => undefined,
    database: { id: 'finance' } as DatabaseConfig,
    log: createLogger('test', { level: 'silent' }),
    signal: new AbortController().signal,
    progress: () => undefined,
    catalog,
    primary,
    storageFor: (name) => (name === 'offsite' ? offsite : primary),
    targets: [target],
    metrics: createMetrics(undefined, { defaults: false }),
    followUp: (name, payload) => {
      followUps.push({ name, payload });
      return `${name}.x`;
    },
  };
}

async function offsiteFiles(): Promise<string[]> {
  if (!existsSync(join(dir, 'offsite'))) return [];
  return (await readdir(join(dir, 'offsite'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

describe('upload handler', () => {
  it('rejects a source artifact that does not match its manifest (STORAGE_CHECKSUM_MISMATCH): nothing stored, nothing recorded', async () => {
    // Flip one byte in the middle of the artifact: same size, different SHA-256.
    const fh = await open(join(dir, 'backups', manifest.artifactKey), 'r+');
    const at = Math.floor(manifest.artifact.sizeBytes / 2);
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
    await fh.close();

    await expect(uploadHandler(ctx())).rejects.toMatchObject({ code: 'STORAGE_CHECKSUM_MISMATCH' });
    expect(await offsiteFiles()).toEqual([]);
    const rec = await catalog.getBackup(manifest.backupId);
    expect(rec!.locations.map((l) => l.target)).toEqual(['local']);
    expect(followUps).toEqual([]);
  });

  it('copies artifact, pin marker and manifest of a pinned backup and records the copy with its storage class', async () => {
    await catalog.setPinned(manifest.backupId, true);
    const out = (await uploadHandler(ctx())) as { storageClass: string | null };
    expect(out.storageClass).toBeNull(); // file:// has no classes
    expect(await offsite.head(manifestKeyFor(manifest.artifactKey))).not.toBeNull();
    expect(await hasPinMarker(offsite, manifest.artifactKey)).toBe(true);
    const rec = await catalog.getBackup(manifest.backupId);
    expect(rec!.locations.find((l) => l.target === 'offsite')).toMatchObject({ artifactKey: manifest.artifactKey, storageClass: null, deletedAt: null });
    expect(followUps).toEqual([{ name: 'prune', payload: { databaseId: 'finance', target: 'offsite' } }]);
  });
});
