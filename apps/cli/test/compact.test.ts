/**
 * `backupctl compact`: a chain (full + deltas) merged into a new full from storage only, the
 * live database gone meanwhile; the new full restores to the delta's snapshot (SHA-256,
 * integrity_check) with the database's key, is copied to the target that held the delta,
 * and a prune afterwards deletes the old chain that only the compacted delta needed, on
 * primary storage and on the target. Real CLI processes, catalog, storages, Redis.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyBackup } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import { generateFinanceDb } from '@mfb/demo-data';
import { LocalStorageDriver } from '@mfb/storage';
import { runProcess, testConfig, distNode, type ProcessRun } from '@mfb/testkit';

const MAIN = resolve(import.meta.dirname, '../src/main.ts');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = randomBytes(32).toString('base64');

let dir: string;
let src: string;
let config: string;
const prefix = `t-compact-${randomBytes(4).toString('hex')}`;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-compact-'));
  src = join(dir, 'finance.db');
  await generateFinanceDb(src, { sizeBytes: 256 * 1024, seed: 5 });
  await mkdir(join(dir, 'nas'), { recursive: true, mode: 0o700 });
  ({ file: config } = await testConfig({
    dir,
    redisUrl: REDIS_URL,
    redisPrefix: prefix,
    settings: {
      keys: [{ id: 'k1', base64: KEY }],
      targets: [{ name: 'nas', url: './nas', retention: { keepLast: 1 } }],
      databases: [
        {
          id: 'fin',
          path: src,
          encryptionKeyId: 'k1',
          targets: ['nas'],
          compression: { algorithm: 'zstd', level: 1 },
          retention: { keepLast: 1 },
          incremental: { minSizeBytes: 0, fullEvery: 20, maxChainRatio: 20 },
        },
      ],
    },
  }));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<ProcessRun> {
  const c = distNode(MAIN, ['--config', config, '--json', ...args]);
  return runProcess(c.command, c.args, { cwd: dir, env: { PATH: process.env.PATH, HOME: dir } });
}

function ok(r: ProcessRun): Record<string, unknown> {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function change(n: number): void {
  const db = new Database(src);
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('note ${n} ${'z'.repeat(500)}')`);
  } finally {
    db.close();
  }
}

/** A CLI backup, then its copy on `nas` (as the worker's upload would make it). */
async function backupWithCopy(): Promise<Record<string, unknown>> {
  const b = ok(await cli(['backup', 'fin']));
  const catalog = await openCatalog(join(dir, 'data', 'catalog.db'));
  try {
    const rec = (await catalog.getBackup(b.backupId as string))!;
    const copy = await copyBackup(new LocalStorageDriver(join(dir, 'data', 'backups')), new LocalStorageDriver(join(dir, 'nas')), rec.manifest);
    await catalog.addLocation(rec.backupId, { target: 'nas', artifactKey: copy.artifactKey });
  } finally {
    await catalog.close();
  }
  return b;
}

describe('backupctl compact', () => {
  it('merges full + 2 deltas into a full without the live database; list shows it; prune then deletes the old chain everywhere', async () => {
    const full = await backupWithCopy();
    change(1);
    await backupWithCopy();
    change(2);
    const d2 = await backupWithCopy();
    expect(d2).toMatchObject({ kind: 'delta', chainLength: 2 });
    // Retention keeps the whole chain for the newest delta.
    const before = ok(await cli(['prune', 'fin', '--dry-run']));
    expect((before.items as Array<{ action: string }>).every((i) => i.action === 'keep')).toBe(true);

    // The live database is not read: it is not there.
    await rename(src, `${src}.away`);
    const r = ok(await cli(['compact', 'fin']));
    expect(r).toMatchObject({ outcome: 'compacted', from: d2.backupId, targets: ['local', 'nas'] });
    const c = r.backupId as string;

    // Restores to exactly the delta's snapshot, integrity_check ok.
    const restored = join(dir, 'restored.db');
    const rs = ok(await cli(['restore', c, '--to', restored]));
    expect(rs).toMatchObject({ integrity: 'ok' });
    const catalog = await openCatalog(join(dir, 'data', 'catalog.db'));
    try {
      const rec = (await catalog.getBackup(c))!;
      const d2Sha = (await catalog.getBackup(d2.backupId as string))!.manifest.snapshot.sha256;
      expect(rec.manifest).toMatchObject({ kind: 'full', compactedFrom: d2.backupId, createdAt: d2.createdAt });
      expect(rec.manifest.snapshot.sha256).toBe(d2Sha);
      expect(rec.locations.filter((l) => l.deletedAt === null).map((l) => l.target).sort()).toEqual(['local', 'nas']);
    } finally {
      await catalog.close();
    }
    // The snapshot as stored (before restore gave the WAL mode back) is the delta's: verify proves it by SHA-256.
    ok(await cli(['verify', c, '--from', 'nas']));

    // Running it again finds the earlier compaction.
    expect(ok(await cli(['compact', 'fin', '--backup', d2.backupId as string]))).toMatchObject({ outcome: 'already', backupId: c });

    // list: the compacted full is a full, with no parent; the deltas name theirs.
    const list = ok(await cli(['list', 'fin'])) as { items: Array<{ backupId: string; kind: string; parentId: string | null; chainLength: number }> };
    expect(list.items[0]).toMatchObject({ backupId: c, kind: 'full', parentId: null, chainLength: 0 });
    expect(list.items.find((i) => i.backupId === d2.backupId)).toMatchObject({ kind: 'delta', chainLength: 2 });

    // Prune: the old chain (full, d1, d2) goes on primary storage and on nas; the compacted full stays.
    for (const target of ['local', 'nas']) {
      const p = ok(await cli(['prune', 'fin', '--target', target])) as { deleted: string[]; items: Array<{ backupId: string; action: string; reasons: string[] }> };
      expect(p.items.filter((i) => i.action === 'keep').map((i) => i.backupId)).toEqual([c]);
      expect(p.deleted).toHaveLength(3);
      expect(p.deleted).toContain(full.backupId);
      expect(p.items.find((i) => i.backupId === d2.backupId)!.reasons).toEqual([`compacted into ${c}`]);
    }
    const restored2 = join(dir, 'restored2.db');
    ok(await cli(['restore', c, '--from', 'nas', '--to', restored2]));

    // The next backup chains on the compacted full.
    await rename(`${src}.away`, src);
    change(3);
    expect(ok(await cli(['backup', 'fin']))).toMatchObject({ kind: 'delta', parentId: c, chainLength: 1 });
  }, 600_000);

  it('the newest backup being a full: nothing to compact', async () => {
    ok(await cli(['backup', 'fin']));
    expect(ok(await cli(['compact', 'fin']))).toMatchObject({ outcome: 'nothing' });
  }, 120_000);
});
