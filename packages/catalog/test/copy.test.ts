/**
 * `copyCatalog` (backupctl catalog migrate) carries everything a running deployment relies on:
 * backups, copies and pins, and also the state that is easy to forget: copies a killed prune
 * left marked `deleting`, restore drill results (the "last verified restore" health reads) and
 * the config's key ids (the key-removal check).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePostgres } from '@mfb/testkit';
import { copyCatalog, type Catalog } from '../src/index.js';
import { fakeManifest, openTestCatalog, type TestCatalog } from './fixtures.js';

describe.each(['sqlite', 'postgres'] as const)('copyCatalog from SQLite into %s', (kind) => {
  let src: TestCatalog;
  let dst: TestCatalog;
  let from: Catalog;
  let to: Catalog;
  beforeEach(async () => {
    src = await openTestCatalog(undefined);
    dst = await openTestCatalog(kind === 'postgres' ? await ensurePostgres() : undefined);
    from = src.cat;
    to = dst.cat;
  });
  afterEach(async () => {
    await src.dispose();
    await dst.dispose();
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
