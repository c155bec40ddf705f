import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, problemOf, startTestApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeEach(async () => {
  t = await startTestApp();
});
afterEach(async () => {
  await t?.close();
});

describe('restore drills in the API', () => {
  it('GET /v1/databases/:id shows the last drill and the last verified restore per target', async () => {
    let res = await t.app.inject({ url: '/v1/databases/main', headers: bearer('read') });
    expect(res.json().restoreDrills).toEqual([]);
    await t.catalog.recordDrill({ databaseId: 'main', target: 'nas', at: '2026-12-01T04:30:00.000Z', outcome: 'ok', backupId: '20261130T020000000Z-00000001' });
    await t.catalog.recordDrill({ databaseId: 'main', target: 'nas', at: '2026-12-08T04:30:00.000Z', outcome: 'failed', backupId: '20261207T020000000Z-00000002', errorCode: 'BACKUP_CHECKSUM_MISMATCH', error: 'artifact checksum mismatch' });
    await t.catalog.recordDrill({ databaseId: 'main', target: 'local', at: '2026-12-08T04:30:00.000Z', outcome: 'ok', backupId: '20261207T020000000Z-00000002' });
    // A target no longer configured is not shown.
    await t.catalog.recordDrill({ databaseId: 'main', target: 'gone', at: '2026-12-08T04:30:00.000Z', outcome: 'ok', backupId: '20261207T020000000Z-00000002' });
    res = await t.app.inject({ url: '/v1/databases/main', headers: bearer('read') });
    expect(res.json().restoreDrills).toEqual([
      expect.objectContaining({ target: 'local', lastOutcome: 'ok', lastVerifiedAt: '2026-12-08T04:30:00.000Z' }),
      {
        target: 'nas',
        lastRunAt: '2026-12-08T04:30:00.000Z',
        lastOutcome: 'failed',
        lastBackupId: '20261207T020000000Z-00000002',
        lastErrorCode: 'BACKUP_CHECKSUM_MISMATCH',
        lastError: 'artifact checksum mismatch',
        lastVerifiedAt: '2026-12-01T04:30:00.000Z',
        lastVerifiedBackupId: '20261130T020000000Z-00000001',
      },
    ]);
  });

  it('POST verifies with drill: true enqueues a drill; with a backupId or from it is refused', async () => {
    const json = (body: unknown) => ({ method: 'POST' as const, url: '/v1/databases/main/verifies', headers: { ...bearer('write'), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    const res = await t.app.inject(json({ drill: true }));
    expect(res.statusCode).toBe(202);
    const job = await t.queues.verify.getJob(res.json().jobId as string);
    expect(job?.data).toEqual({ databaseId: 'main', drill: true });
    const bad = await t.app.inject(json({ drill: true, from: 'nas' }));
    expect(bad.statusCode).toBe(400);
    expect(problemOf(bad).code).toBe('VALIDATION_FAILED');
  });
});
