
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { manifestKeyFor, type Manifest } from '@mfb/backup';
import { openCatalog, type Catalog } from '@mfb/catalog';
import { createLogger, createMetrics } from '@mfb/observability';
import { createStorages } from '@mfb/runtime';
import { pruneHandler } from '../src/handlers/prune.handler.js';
import { fakeManifest, tempDir, testConfig } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const HOUR = 3600_000;

const manifest = (databaseId: string, createdAt: Date, size: number, n: number): Manifest => fakeManifest(databaseId, createdAt, n, { artifact: size, snapshot: size });

describe('prune job: the plan', () => {
  it('keeps the primary copy of a backup whose upload is pending, deletes the rest by policy, and logs the plan', async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const { config } = await testConfig({ dir: tmp.dir, databases: [{ id: 'a', path: join(tmp.dir, 'a.sqlite'), targets: ['nas'], keepLast: 1 }], targets: ['nas'] });
    const catalog: Catalog = await openCatalog(config.catalogPath);
    cleanups.push(() => catalog.close());
    const localDir = join(config.dataDir, 'backups');

    // b0: made before nas was configured (older than nas's first copy, never uploaded);
    // b1, b2: uploaded; b3: upload still pending; b4: the newest, upload pending too.
    const t0 = Date.now() - 10 * HOUR;
    const ms = [0, 1, 2, 3, 4].map((i) => manifest('a', new Date(t0 + i * HOUR), 1000 + i, i));
    for (const m of ms) {
      for (const key of [m.artifactKey, manifestKeyFor(m.artifactKey)]) {
        await mkdir(dirname(join(localDir, key)), { recursive: true });
        await writeFile(join(localDir, key), 'x');
      }
      await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    }
    for (const m of [ms[1]!, ms[2]!]) await catalog.addLocation(m.backupId, { target: 'nas', artifactKey: m.artifactKey });

    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const storages = createStorages(config);
    const prune = async (log = createLogger('prune-test', { level: 'silent' })) =>
      (await pruneHandler({
        payload: { databaseId: 'a', target: 'local' },
        database: config.databases[0]!,
        log,
        signal: new AbortController().signal,
        fence: () => undefined,
        progress: () => {},
        catalog,
        storageFor: storages.storageFor,
        keys: config.keys,
        tmpDir: config.tmpDir,
        targets: config.targets,
        metrics: createMetrics(),
        followUp: () => {
          throw new Error('a prune without everyTarget chains nothing');
        },
      })) as { kept: number; deleted: string[] };
    const result = await prune(createLogger('prune-test', { level: 'debug', destination: sink }));

    expect(result.deleted.sort()).toEqual([ms[0]!.backupId, ms[1]!.backupId, ms[2]!.backupId].sort());
    expect(result.kept).toBe(2);
    for (const m of ms) expect(existsSync(join(localDir, m.artifactKey)), m.backupId).toBe(m === ms[3] || m === ms[4]);
    const live = (await catalog.listBackups({ databaseId: 'a', target: 'local' })).items.map((b) => b.backupId);
    expect(live).toEqual([ms[4]!.backupId, ms[3]!.backupId]);

    const info = lines.find((l) => l['msg'] === 'retention plan for a on local: keep 2, delete 3');
    expect(info).toMatchObject({
      level: 30,
      policy: { keepLast: 1 },
      totals: { backups: 5, kept: 2, deleted: 3, pendingUpload: 1, keptBytes: 1003 + 1004 },
      keptBy: { newest: 1, keepLast: 1, pendingUpload: 1 },
      pendingUpload: [{ backupId: ms[3]!.backupId, reasons: ['pending upload to nas'] }],
    });
    expect(info!['deleted']).toEqual(expect.arrayContaining([{ backupId: ms[0]!.backupId, reason: 'not kept by any rule' }]));
    const perBackup = lines.filter((l) => l['level'] === 20 && typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('retention '));
    expect(perBackup).toHaveLength(5);
    expect(perBackup.find((l) => l['backupId'] === ms[3]!.backupId)).toMatchObject({ action: 'keep', reasons: ['pending upload to nas'] });

    // once the upload landed, the next prune deletes it like any other
    await catalog.addLocation(ms[3]!.backupId, { target: 'nas', artifactKey: ms[3]!.artifactKey });
    const again = await prune();
    expect(again.deleted).toEqual([ms[3]!.backupId]);
  });
});
