/**
 * Defect 7: an artifact whose manifest never came (writer killed between the two) is deleted
 * once older than the threshold; complete backups, young orphans and other objects stay.
 * On the local driver and on an S3 server (s3rver).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStorageDriver, openStorage, type StorageDriver } from '@mfb/storage';
import { startS3rver, type S3TestServer } from '@mfb/testkit';
import { createBackup, manifestKeyFor, newBackupId, pinKeyFor, reclaimOrphanArtifacts } from '../src/index.js';

let dir: string;
let s3: S3TestServer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-orphans-'));
  const db = new Database(join(dir, 'a.db'));
  db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a'), ('b');");
  db.close();
  s3 = await startS3rver();
}, 120_000);
afterAll(async () => {
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

const put = (s: StorageDriver, key: string, body = 'x'): Promise<unknown> => s.put(key, Readable.from([Buffer.from(body)]));

async function keys(s: StorageDriver, prefix: string): Promise<string[]> {
  return (await s.list(prefix)).items.map((o) => o.key).sort();
}

const drivers: Array<[string, () => StorageDriver]> = [
  ['file://', () => new LocalStorageDriver(join(dir, 'local'))],
  ['s3:// (s3rver)', () => openStorage(`s3://${s3.bucket}/orphans`, { options: { endpoint: s3.endpoint, credentialsFile: s3.credentialsFile, contentMd5: true } })],
];

describe.each(drivers)('reclaimOrphanArtifacts on %s', (_name, open) => {
  it('deletes manifest-less artifacts older than the threshold (and their pin marker), nothing else', async () => {
    const storage = open();
    const { manifest } = await createBackup({ databaseId: 'db05', sourcePath: join(dir, 'a.db'), storage, compression: { algorithm: 'gzip', level: 1 }, tmpDir: join(dir, 'tmp') });
    const orphan = `db05/${newBackupId()}.sqlite.gz.enc`;
    await put(storage, orphan);
    await put(storage, pinKeyFor(orphan), '{}');
    await put(storage, 'db05/notes.txt');
    await put(storage, `db06/${newBackupId()}.sqlite.gz`);

    // Young: a backup may be between its two writes; nothing goes.
    expect(await reclaimOrphanArtifacts(storage, 'db05')).toEqual([]);
    const before = await keys(storage, 'db05/');
    expect(before).toContain(orphan);

    const later = Date.now() + 2 * 3600 * 1000;
    expect(await reclaimOrphanArtifacts(storage, 'db05', { now: later })).toEqual([orphan]);
    const after = await keys(storage, 'db05/');
    expect(after).toEqual([manifest.artifactKey, manifestKeyFor(manifest.artifactKey), 'db05/notes.txt'].sort());
    // Another database's orphan is not this call's business.
    expect(await keys(storage, 'db06/')).toHaveLength(1);
    // The threshold is configurable.
    const young = `db05/${newBackupId()}.sqlite`;
    await put(storage, young);
    expect(await reclaimOrphanArtifacts(storage, 'db05', { olderThanMs: 0 })).toEqual([young]);
  }, 60_000);
});
