import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePostgres } from '@mfb/testkit';
import type { Catalog } from '../src/index.js';
import { fakeManifest, openTestCatalog, type TestCatalog } from './fixtures.js';


describe.each(['sqlite', 'postgres'] as const)('restore drills and key usage in the %s catalog', (kind) => {
  let t: TestCatalog;
  let cat: Catalog;
  beforeEach(async () => {
    t = await openTestCatalog(kind === 'postgres' ? await ensurePostgres() : undefined);
    cat = t.cat;
  });
  afterEach(() => t.dispose());

  it('keeps the last drill and the last verified restore per database and target', async () => {
    await cat.recordDrill({ databaseId: 'a', target: 'nas', at: '2026-12-01T04:30:00.000Z', outcome: 'ok', backupId: 'b1' });
    const failed = await cat.recordDrill({ databaseId: 'a', target: 'nas', at: '2026-12-08T04:30:00.000Z', outcome: 'failed', backupId: 'b2', errorCode: 'BACKUP_CHECKSUM_MISMATCH', error: 'artifact checksum' });
    expect(failed).toEqual({
      databaseId: 'a',
      target: 'nas',
      lastRunAt: '2026-12-08T04:30:00.000Z',
      lastOutcome: 'failed',
      lastBackupId: 'b2',
      lastErrorCode: 'BACKUP_CHECKSUM_MISMATCH',
      lastError: 'artifact checksum',
      lastVerifiedAt: '2026-12-01T04:30:00.000Z',
      lastVerifiedBackupId: 'b1',
    });
    await cat.recordDrill({ databaseId: 'a', target: 'local', at: '2026-12-08T04:30:00.000Z', outcome: 'ok', backupId: 'b2' });
    await cat.recordDrill({ databaseId: 'b', target: 'local', at: '2026-12-08T04:30:00.000Z', outcome: 'failed', backupId: null, errorCode: 'WORKER_NO_BACKUP' });
    expect((await cat.listDrills('a')).map((d) => [d.target, d.lastOutcome, d.lastVerifiedBackupId])).toEqual([
      ['local', 'ok', 'b2'],
      ['nas', 'failed', 'b1'],
    ]);
    expect((await cat.listDrills()).map((d) => `${d.databaseId}/${d.target}:${d.lastVerifiedAt ?? 'never'}`)).toEqual([
      'a/local:2026-12-08T04:30:00.000Z',
      'a/nas:2026-12-01T04:30:00.000Z',
      'b/local:never',
    ]);
    const ok = await cat.recordDrill({ databaseId: 'a', target: 'nas', at: '2026-12-15T04:30:00.000Z', outcome: 'ok', backupId: 'b3' });
    expect(ok).toMatchObject({ lastOutcome: 'ok', lastErrorCode: null, lastError: null, lastVerifiedAt: '2026-12-15T04:30:00.000Z', lastVerifiedBackupId: 'b3' });
  });

  it('remembers the config key ids', async () => {
    expect(await cat.configKeyIds()).toEqual([]);
    await cat.setConfigKeyIds(['old', 'new', 'old']);
    expect(await cat.configKeyIds()).toEqual(['new', 'old']);
    await cat.setConfigKeyIds([]);
    expect(await cat.configKeyIds()).toEqual([]);
  });

  it('keyUsage counts live backups per key id (deleted and unencrypted ones are not listed)', async () => {
    const enc = (db: string, keyId: string, at: string) => ({ ...fakeManifest(db, new Date(at)), encryption: { algorithm: 'aes-256-gcm-chunked-v1' as const, keyId, chunkSize: 1024 } });
    const a = enc('a', 'old', '2026-01-01T00:00:00Z');
    const b = enc('b', 'old', '2026-01-02T00:00:00Z');
    const c = enc('a', 'new', '2026-01-03T00:00:00Z');
    const gone = enc('a', 'gone', '2026-01-04T00:00:00Z');
    for (const m of [a, b, c, gone, fakeManifest('a', new Date('2026-01-05T00:00:00Z'))]) await cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    await cat.markLocationDeleted(gone.backupId, 'local');
    expect(await cat.keyUsage()).toEqual([
      { keyId: 'new', backups: 1, examples: [{ databaseId: 'a', backupId: c.backupId }] },
      { keyId: 'old', backups: 2, examples: [{ databaseId: 'b', backupId: b.backupId }, { databaseId: 'a', backupId: a.backupId }] },
    ]);
  });
});
