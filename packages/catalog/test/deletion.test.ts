import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '@mfb/backup';
import type { Catalog } from '../src/index.js';
import { fakeManifest, openTestCatalog, type TestCatalog } from './fixtures.js';

/** On the SQLite catalog here; on PostgreSQL when catalog.postgres.test.ts imports it with MFB_TEST_CATALOG_URL set. */
const PG_URL = process.env.MFB_TEST_CATALOG_URL;

let t: TestCatalog;
let cat: Catalog;
beforeEach(async () => {
  t = await openTestCatalog(PG_URL);
  cat = t.cat;
});
afterEach(() => t.dispose());


async function add(dbId: string, at: Date, targets: string[] = ['local']): Promise<Manifest> {
  const m = fakeManifest(dbId, at);
  await cat.recordBackup(m, { target: targets[0]!, artifactKey: m.artifactKey });
  for (const t of targets.slice(1)) await cat.addLocation(m.backupId, { target: t, artifactKey: m.artifactKey });
  return m;
}

const DAY = 86_400_000;

describe('deletion protocol in the catalog', () => {
  it('beginCopyDeletes refuses pinned backups; a copy marked deleting refuses a pin until it is deleted', async () => {
    const a = await add('db', new Date('2026-01-01T00:00:00Z'), ['local', 'nas']);
    const b = await add('db', new Date('2026-01-02T00:00:00Z'));
    await cat.setPinned(b.backupId, true);
    const r = await cat.beginCopyDeletes(
      [
        { backupId: a.backupId, target: 'local' },
        { backupId: b.backupId, target: 'local' },
        { backupId: a.backupId, target: 'gcs' },
      ],
      '2026-02-01T00:00:00Z',
    );
    expect(r.started).toEqual([{ backupId: a.backupId, target: 'local', databaseId: 'db', artifactKey: a.artifactKey, deletingAt: '2026-02-01T00:00:00.000Z' }]);
    expect(r.pinned).toEqual([{ backupId: b.backupId, target: 'local' }]);
    expect(r.gone).toEqual([{ backupId: a.backupId, target: 'gcs' }]);
    expect((await cat.getBackup(b.backupId))!.locations[0]!.deletedAt).toBeNull();

    // committed to deletion: a pin is refused, and the copy is listed for the next prune
    await expect(cat.setPinned(a.backupId, true)).rejects.toMatchObject({ code: 'BACKUP_DELETING', status: 409 });
    expect((await cat.getBackup(a.backupId))!.pinned).toBe(false);
    expect(await cat.listDeletingCopies({ databaseId: 'db', target: 'local' })).toEqual([r.started[0]]);
    expect(await cat.listDeletingCopies({ databaseId: 'db', target: 'nas' })).toEqual([]);
    expect(await cat.listDeletingCopies({ target: 'local' })).toHaveLength(1);
    // begin again (a resumed run): still started, same mark
    expect((await cat.beginCopyDeletes([{ backupId: a.backupId, target: 'local' }])).started[0]!.deletingAt).toBe('2026-02-01T00:00:00.000Z');

    await cat.markLocationsDeleted([{ backupId: a.backupId, target: 'local' }]);
    expect(await cat.listDeletingCopies()).toEqual([]);
    // the nas copy is live again with no deletion pending: pinning works
    await cat.setPinned(a.backupId, true);
    expect((await cat.getBackup(a.backupId))!.pinned).toBe(true);
    // no live copy left at all: refused
    const c = await add('db', new Date('2026-01-03T00:00:00Z'));
    await cat.markLocationDeleted(c.backupId, 'local');
    await expect(cat.setPinned(c.backupId, true)).rejects.toMatchObject({ code: 'BACKUP_DELETING' });
    await cat.setPinned(c.backupId, false); // unpinning is always allowed
  });

  it('incremental chains: the ancestors of a pinned delta are refused; a delta whose ancestor is being deleted cannot be pinned', async () => {
    const full = await add('db', new Date('2026-01-01T00:00:00Z'));
    const delta = (parent: Manifest, at: string): Promise<Manifest> => {
      const m = { ...fakeManifest('db', new Date(at)), formatVersion: 2, kind: 'delta', parentId: parent.backupId } as unknown as Manifest;
      return cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey }).then(() => m);
    };
    const d1 = await delta(full, '2026-01-02T00:00:00Z');
    const d2 = await delta(d1, '2026-01-03T00:00:00Z');
    await cat.setPinned(d2.backupId, true);
    const r = await cat.beginCopyDeletes([full, d1].map((m) => ({ backupId: m.backupId, target: 'local' })));
    expect(r.started).toEqual([]);
    expect(r.pinned.map((c) => c.backupId)).toEqual([full.backupId, d1.backupId]);

    await cat.setPinned(d2.backupId, false);
    expect((await cat.beginCopyDeletes([{ backupId: full.backupId, target: 'local' }])).started).toHaveLength(1);
    // the base is being deleted: pinning a delta built on it is refused
    await expect(cat.setPinned(d2.backupId, true)).rejects.toMatchObject({ code: 'BACKUP_DELETING' });
    expect((await cat.getBackup(d2.backupId))!.pinned).toBe(false);
  });

  it('a copy recorded again (re-upload) is live and no longer deleting', async () => {
    const a = await add('db', new Date('2026-01-01T00:00:00Z'));
    await cat.beginCopyDeletes([{ backupId: a.backupId, target: 'local' }]);
    await cat.addLocation(a.backupId, { target: 'local', artifactKey: a.artifactKey });
    expect(await cat.listDeletingCopies()).toEqual([]);
    await cat.setPinned(a.backupId, true);
  });
});

describe('housekeep', () => {
  it('trims job history by age and count, newest kept', async () => {
    const base = Date.parse('2026-06-01T00:00:00Z');
    for (let i = 0; i < 10; i++) {
      const at = new Date(base + i * DAY).toISOString();
      await cat.recordJob({ jobId: `j${i}`, queue: 'backup', name: 'backup', databaseId: 'db', state: 'completed', attempts: 1, startedAt: at, finishedAt: at, error: null, result: null });
    }
    expect(await cat.housekeep({ jobsFinishedBefore: new Date(base + 2 * DAY).toISOString() })).toEqual({ jobs: 2, backups: 0 });
    expect(await cat.housekeep({ jobsMax: 5 })).toEqual({ jobs: 3, backups: 0 });
    expect((await cat.listJobs({ limit: 100 })).map((j) => j.jobId)).toEqual(['j9', 'j8', 'j7', 'j6', 'j5']);
    expect(await cat.housekeep({ jobsMax: 5 })).toEqual({ jobs: 0, backups: 0 });
    await expect(cat.housekeep({ jobsMax: -1 })).rejects.toMatchObject({ code: 'CATALOG_INVALID_QUERY' });
  });

  it('trims backups fully deleted before the cutoff; keeps live, pinned, recently deleted, and the oldest per target', async () => {
    const t = (d: number): Date => new Date(Date.parse('2026-01-01T00:00:00Z') + d * DAY);
    const first = await add('db', t(0), ['local', 'nas']); // oldest ever on local and nas
    const old1 = await add('db', t(1), ['local', 'nas']);
    const old2 = await add('db', t(2));
    const recent = await add('db', t(3));
    const live = await add('db', t(4));
    const partly = await add('db', t(5), ['local', 'nas']);
    for (const m of [first, old1, old2]) for (const l of (await cat.getBackup(m.backupId))!.locations) await cat.markLocationDeleted(m.backupId, l.target, t(10).toISOString());
    await cat.markLocationDeleted(recent.backupId, 'local', t(30).toISOString());
    await cat.markLocationDeleted(partly.backupId, 'local', t(10).toISOString());

    expect(await cat.housekeep({ deletedBefore: t(20).toISOString() })).toEqual({ jobs: 0, backups: 2 });
    const left = (await cat.listBackups({ databaseId: 'db', limit: 100 })).items.map((b) => b.backupId);
    expect(left.sort()).toEqual([first, recent, live, partly].map((m) => m.backupId).sort());
    // firstCopyAt (what the primary's prune uses for pending uploads) did not move
    expect((await cat.storageUsage({ databaseId: 'db' })).map((u) => [u.target, u.firstCopyAt])).toEqual([
      ['local', t(0).toISOString()],
      ['nas', t(0).toISOString()],
    ]);
    expect(await cat.housekeep({ deletedBefore: t(40).toISOString() })).toEqual({ jobs: 0, backups: 1 });
    expect(await cat.getBackup(recent.backupId)).toBeNull();
  });
});
