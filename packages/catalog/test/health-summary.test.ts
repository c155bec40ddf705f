/** `healthSummary`: newest live backup, last K backup jobs and last verify of many databases at once. */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Manifest } from '@mfb/backup';
import { openCatalog, type SqliteCatalog } from '../src/index.js';

let dir: string;
let cat: SqliteCatalog;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mfb-catalog-health-'));
  cat = await openCatalog(path.join(dir, 'catalog.db'));
  await cat.migrate();
});
afterEach(async () => {
  await cat.close();
  await rm(dir, { recursive: true, force: true });
});

let seq = 0;
function manifest(databaseId: string, createdAt: string): Manifest {
  const stamp = createdAt.slice(0, 19).replace(/[-:]/g, '') + createdAt.slice(20, 23) + 'Z';
  const backupId = `${stamp}-${(seq++).toString(16).padStart(8, '0')}`;
  const h = (s: string): string => createHash('sha256').update(s).digest('hex');
  return {
    formatVersion: 1,
    backupId,
    databaseId,
    createdAt,
    artifactKey: `${databaseId}/${backupId}.sqlite.gz`,
    artifact: { sizeBytes: 1000, sha256: h('a' + backupId) },
    snapshot: { sizeBytes: 4096, sha256: h('s' + backupId), method: 'vacuum-into', sqlite: { pageSize: 4096, pageCount: 1, userVersion: 0, journalMode: 'wal' } },
    compression: { algorithm: 'gzip', level: 6 },
    encryption: null,
    tool: { name: 'myfinance-backup', version: '0.1.0' },
  };
}

const job = (databaseId: string, name: string, state: 'completed' | 'failed', finishedAt: string, error: string | null = null) => ({
  jobId: `${name}-${seq++}`,
  queue: name,
  name,
  databaseId,
  state,
  attempts: 1,
  startedAt: finishedAt,
  finishedAt,
  error,
  result: null,
});

it('answers for every database: newest live backup, last K backup jobs newest first, last completed verify', async () => {
  const older = manifest('a', '2026-01-01T00:00:00.000Z');
  const newest = manifest('a', '2026-01-02T00:00:00.000Z');
  await cat.recordBackup(older, { target: 'local', artifactKey: older.artifactKey });
  await cat.recordBackup(newest, { target: 'local', artifactKey: newest.artifactKey });
  // The newest has no live copy left: the older one counts.
  await cat.markLocationDeleted(newest.backupId, 'local');
  await cat.recordJob(job('a', 'backup', 'completed', '2026-01-01T00:00:00.000Z'));
  await cat.recordJob(job('a', 'verify', 'completed', '2026-01-01T01:00:00.000Z'));
  await cat.recordJob(job('a', 'backup', 'failed', '2026-01-01T02:00:00.000Z', 'E1'));
  await cat.recordJob(job('a', 'upload', 'failed', '2026-01-01T03:00:00.000Z', 'U'));
  await cat.recordJob(job('a', 'backup', 'failed', '2026-01-01T04:00:00.000Z', 'E2'));
  await cat.recordJob(job('a', 'verify', 'failed', '2026-01-01T05:00:00.000Z', 'V'));

  const s = await cat.healthSummary(['a', 'none'], { backupJobs: 2, verify: true });
  expect(s.get('a')).toEqual({
    lastBackupAt: '2026-01-01T00:00:00.000Z',
    backupJobs: [
      { state: 'failed', finishedAt: '2026-01-01T04:00:00.000Z', error: 'E2' },
      { state: 'failed', finishedAt: '2026-01-01T02:00:00.000Z', error: 'E1' },
    ],
    lastVerifiedAt: '2026-01-01T01:00:00.000Z',
  });
  expect(s.get('none')).toEqual({ lastBackupAt: null, backupJobs: [], lastVerifiedAt: null });
  expect((await cat.healthSummary(['a'], { backupJobs: 5, verify: false })).get('a')).toMatchObject({ lastVerifiedAt: null, backupJobs: [expect.anything(), expect.anything(), expect.anything()] });
});
