/**
 * `copyCatalog` (backupctl catalog migrate) carries everything a running deployment relies on:
 * backups, copies and pins, and also the state that is easy to forget: copies a killed prune
 * left marked `deleting`, restore drill results (the "last verified restore" health reads) and
 * the config's key ids (the key-removal check).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePostgres } from '@mfb/testkit';
import { copyCatalog, openCatalog, openPostgresCatalog, type Catalog } from '../src/index.js';
import { fakeManifest } from './fixtures.js';

describe.each(['sqlite', 'postgres'] as const)('copyCatalog from SQLite into %s', (kind) => {
  let dir: string;
  let from: Catalog;
  let to: Catalog;
  let schema: string | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mfb-catalog-copy-'));
    from = await openCatalog(path.join(dir, 'from.db'));
    if (kind === 'sqlite') to = await openCatalog(path.join(dir, 'to.db'));
    else {
      schema = `t_${randomBytes(6).toString('hex')}`;
      to = await openPostgresCatalog(await ensurePostgres(), { schema });
    }
  });
  afterEach(async () => {
    await from.close();
    await to.close();
    if (schema) {
      const c = new pg.Client({ connectionString: await ensurePostgres() });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
      schema = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('carries deleting marks, drill results and config key ids, and a second run changes nothing', async () => {
    const kept = fakeManifest('fin', new Date('2026-11-01T00:00:00Z'));
    const halfDeleted = fakeManifest('fin', new Date('2026-11-02T00:00:00Z'));
    const pinned = fakeManifest('fin', new Date('2026-11-03T00:00:00Z'));
    for (const m of [kept, halfDeleted, pinned]) await from.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    await from.setPinned(pinned.backupId, true);
    const began = await from.beginCopyDeletes([{ backupId: halfDeleted.backupId, target: 'local' }], '2026-11-20T10:00:00.000Z');
    expect(began.started).toHaveLength(1);
    await from.recordDrill({ databaseId: 'fin', target: 'local', at: '2026-11-10T04:30:00.000Z', outcome: 'ok', backupId: kept.backupId });
    await from.recordDrill({ databaseId: 'fin', target: 'local', at: '2026-11-17T04:30:00.000Z', outcome: 'failed', backupId: kept.backupId, errorCode: 'BACKUP_CHECKSUM_MISMATCH', error: 'artifact checksum' });
    await from.recordDrill({ databaseId: 'fin', target: 'offsite', at: '2026-11-17T05:00:00.000Z', outcome: 'ok', backupId: kept.backupId });
    await from.setConfigKeyIds(['k2026', 'k2025']);

    const report = await copyCatalog(from, to);
    expect(report).toMatchObject({ backups: 3, pinned: 1, deletingCopies: 1, drills: 2, configKeyIds: 2 });

    // The half-deleted copy is still committed to deletion: not pinnable, and the next prune's resume step sees it.
    expect(await to.listDeletingCopies()).toEqual(await from.listDeletingCopies());
    await expect(to.setPinned(halfDeleted.backupId, true)).rejects.toMatchObject({ code: 'BACKUP_DELETING' });
    expect((await to.getBackup(pinned.backupId))?.pinned).toBe(true);
    expect(await to.listDrills('fin')).toEqual(await from.listDrills('fin'));
    expect([...(await to.configKeyIds())].sort()).toEqual(['k2025', 'k2026']);

    await copyCatalog(from, to);
    expect(await to.listDeletingCopies()).toEqual(await from.listDeletingCopies());
    expect(await to.listDrills()).toEqual(await from.listDrills());
  });
});
