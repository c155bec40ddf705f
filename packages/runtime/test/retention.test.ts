import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '@mfb/catalog';
import { testConfig } from '@mfb/testkit';
import { databaseFor, planTargetRetention, storageUsageFor } from '../src/index.js';

let dir: string;
let catalog: Catalog;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-runtime-retention-'));
  catalog = await openCatalog(join(dir, 'catalog.db'));
});
afterEach(async () => {
  await catalog.close();
  await rm(dir, { recursive: true, force: true });
});

type Manifest = Parameters<Catalog['recordBackup']>[0];

const KIB = 1024;
const DAY = 86_400_000;

function manifest(createdAt: Date, size: number, n: number): Manifest {
  const backupId = `${createdAt.toISOString().replace(/[-:.]/g, '').slice(0, 15)}000Z-${n.toString(16).padStart(8, '0')}`;
  const h = (s: string): string => createHash('sha256').update(s).digest('hex');
  return {
    formatVersion: 1,
    backupId,
    databaseId: 'fin',
    createdAt: createdAt.toISOString(),
    artifactKey: `fin/${backupId}.sqlite.gz`,
    artifact: { sizeBytes: size, sha256: h(backupId) },
    snapshot: { sizeBytes: size, sha256: h(backupId), method: 'vacuum-into', sqlite: { pageSize: 4096, pageCount: 1, userVersion: 0, journalMode: 'wal' } },
    compression: { algorithm: 'gzip', level: 1 },
    encryption: null,
    tool: { name: 'myfinance-backup', version: '0.1.0' },
  } as Manifest;
}

describe('planTargetRetention', () => {
  it('plans each target with its own policy from the config file, with catalog sizes under a byte budget', async () => {
    const { config } = await testConfig({
      dir,
      redisUrl: 'redis://127.0.0.1:6379',
      settings: {
        localRetention: { keepDaily: 30 },
        databases: [{ id: 'fin', path: 'fin.db', targets: ['nas'], retention: { keepDaily: 30, maxTotalBytes: '10KiB', minKeep: 1 } }],
        targets: [{ name: 'nas', url: './nas', retention: { keepLast: 2 } }],
      },
    });
    const now = new Date('2026-12-01T12:00:00Z');
    // five daily backups of 3 KiB, all uploaded to nas
    const ms = [0, 1, 2, 3, 4].map((i) => manifest(new Date(now.getTime() - (i + 1) * DAY), 3 * KIB, i));
    for (const m of ms) {
      await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
      await catalog.addLocation(m.backupId, { target: 'nas', artifactKey: m.artifactKey });
    }
    const db = databaseFor(config, 'fin');
    const local = await planTargetRetention({ config, catalog }, db, 'local', now);
    expect(local.view.policy).toEqual({ keepDaily: 30, maxTotalBytes: 10 * KIB, minKeep: 1 });
    // every day is kept by keepDaily; the budget of 10 KiB keeps the newest three (9 KiB)
    expect(local.view.items.map((i) => i.action)).toEqual(['keep', 'keep', 'keep', 'delete', 'delete']);
    expect(local.view.items[3]!.reasons[0]).toMatch(/^maxTotalBytes 10 KiB: over budget by 2 KiB \(was kept by keepDaily 2026-11-27\)$/);
    expect(local.view.items[0]).toMatchObject({ ageSeconds: 86_400, sizeBytes: 3 * KIB });
    expect(local.view.totals).toMatchObject({ keptBytes: 9 * KIB, deletedBytes: 6 * KIB, overBudgetBytes: 0, pendingUpload: 0 });
    expect(local.delete.map((r) => r.backupId)).toEqual([ms[3]!.backupId, ms[4]!.backupId]);

    const nas = await planTargetRetention({ config, catalog }, db, 'nas', now);
    expect(nas.view.policy).toEqual({ keepLast: 2 });
    expect(nas.delete.map((r) => r.backupId)).toEqual([ms[2]!.backupId, ms[3]!.backupId, ms[4]!.backupId]);
    await expect(planTargetRetention({ config, catalog }, db, 'tape', now)).rejects.toMatchObject({ code: 'TARGET_NOT_FOUND' });

    expect(await storageUsageFor(config, catalog)).toEqual({
      items: [
        { databaseId: 'fin', target: 'local', backups: 5, bytes: 15 * KIB },
        { databaseId: 'fin', target: 'nas', backups: 5, bytes: 15 * KIB },
      ],
      totals: { backups: 10, bytes: 30 * KIB },
    });
  });

  it('holds primary copies back for a target with no copy yet, but not backups made before the target was configured', async () => {
    const { config } = await testConfig({
      dir,
      redisUrl: 'redis://127.0.0.1:6379',
      settings: { databases: [{ id: 'fin', path: 'fin.db', targets: ['nas'], retention: { keepLast: 1 } }], targets: [{ name: 'nas', url: './nas' }] },
    });
    const now = new Date('2026-12-01T12:00:00Z');
    const ms = [0, 1, 2, 3].map((i) => manifest(new Date(now.getTime() - (4 - i) * DAY), KIB, i)); // oldest first
    for (const m of ms) await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    const db = databaseFor(config, 'fin');
    // nothing reached nas yet: every backup waits for it (the newest is kept anyway)
    let plan = await planTargetRetention({ config, catalog }, db, 'local', now);
    expect(plan.delete).toEqual([]);
    expect(plan.view.totals).toMatchObject({ kept: 4, deleted: 0, pendingUpload: 3 });
    // ms[2] reached nas: ms[0], ms[1] predate nas's first copy and go; ms[2] has its copy and goes
    await catalog.addLocation(ms[2]!.backupId, { target: 'nas', artifactKey: ms[2]!.artifactKey });
    plan = await planTargetRetention({ config, catalog }, db, 'local', now);
    expect(plan.delete.map((r) => r.backupId)).toEqual([ms[2]!.backupId, ms[1]!.backupId, ms[0]!.backupId]);
    // a copy deleted on nas by nas's own retention is not "pending" again
    await catalog.markLocationDeleted(ms[2]!.backupId, 'nas');
    plan = await planTargetRetention({ config, catalog }, db, 'local', now);
    expect(plan.delete.map((r) => r.backupId)).toContain(ms[2]!.backupId);
  });
});
