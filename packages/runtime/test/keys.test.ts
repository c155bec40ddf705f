import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCatalog, type SqliteCatalog } from '@mfb/catalog';
import { KeyStillInUseError, checkKeysInUse } from '../src/index.js';

let dir: string;
let catalog: SqliteCatalog;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-runtime-keys-'));
  catalog = await openCatalog(join(dir, 'catalog.db'));
});
afterEach(async () => {
  await catalog.close();
  await rm(dir, { recursive: true, force: true });
});

type RecordedManifest = Parameters<SqliteCatalog['recordBackup']>[0];

async function backupWithKey(backupId: string, keyId: string): Promise<void> {
  const m = {
    formatVersion: 1,
    backupId,
    databaseId: 'fin',
    createdAt: '2026-12-01T00:00:00.000Z',
    artifactKey: `fin/${backupId}.sqlite.gz.enc`,
    artifact: { sizeBytes: 10, sha256: '0'.repeat(64) },
    snapshot: { sizeBytes: 10, sha256: '0'.repeat(64), method: 'vacuum-into', sqlite: { pageSize: 4096, pageCount: 1, userVersion: 0, journalMode: 'wal' } },
    compression: { algorithm: 'gzip', level: 6 },
    encryption: { algorithm: 'aes-256-gcm-chunked-v1', keyId, chunkSize: 1024 },
    tool: { name: 'myfinance-backup', version: '0.1.0' },
  } as RecordedManifest;
  await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
}

const keys = (...ids: string[]) => ({ keys: new Map(ids.map((id) => [id, Buffer.alloc(32)])) });

describe('checkKeysInUse', () => {
  it('refuses a key the config had and dropped while live backups need it; allows it once none does', async () => {
    await backupWithKey('20261201T000000000Z-00000001', 'old');
    await checkKeysInUse(keys('old'), catalog);
    expect(await catalog.configKeyIds()).toEqual(['old']);
    await checkKeysInUse(keys('old', 'new'), catalog);
    const err = await checkKeysInUse(keys('new'), catalog).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyStillInUseError);
    expect((err as KeyStillInUseError).message).toContain('fin/20261201T000000000Z-00000001 (key old)');
    // The refused config did not change what is remembered.
    expect(await catalog.configKeyIds()).toEqual(['new', 'old']);
    await catalog.markLocationDeleted('20261201T000000000Z-00000001', 'local');
    await checkKeysInUse(keys('new'), catalog);
    expect(await catalog.configKeyIds()).toEqual(['new']);
  });

  it('does not refuse a key the config never had (a catalog rebuilt on a new machine, keys given per command)', async () => {
    await backupWithKey('20261201T000000000Z-00000002', 'lost-machine-key');
    await checkKeysInUse(keys(), catalog);
    await checkKeysInUse(keys('other'), catalog);
  });
});
