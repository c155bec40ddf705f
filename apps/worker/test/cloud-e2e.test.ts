/**
 * "The machine is gone, I have the bucket and the key", end to end through real processes:
 * a worker process backs up and uploads to S3 (s3rver), GCS (firebase-tools emulator) and
 * Azure Blob (Azurite), one backup pinned; the data dir (catalog and local storage) is wiped;
 * then for each target `backupctl catalog rebuild --from <target>` recreates the catalog
 * (pins included), and `backupctl restore --from <target>` gives back the same rows with
 * integrity_check ok. Bad input: an unknown target name, a missing bucket and refused
 * credentials each fail with their code and leave no catalog behind.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePinMarker } from '@mfb/backup';
import { openCatalog, type Catalog } from '@mfb/catalog';
import { generateFinanceDb, summarizeFinanceDb } from '@mfb/demo-data';
import { closeQueues, createRedis, enqueue } from '@mfb/jobs';
import { queuesFor } from '@mfb/runtime';
import { openStorage } from '@mfb/storage';
import { distNode, runProcess, testConfig as kitConfig, startAzurite, startGcsEmulator, startS3rver, type Azurite, type GcsEmulator, type ProcessRun, type S3TestServer } from '@mfb/testkit';
import { ROOT, spawnWorker, stopAll, tempDir, testConfig, waitUntil, type WorkerProc } from './helpers.js';

const CLI = join(ROOT, 'apps/cli/src/main.ts');
const TARGETS = ['s3', 'gs', 'az'] as const;
const GCS_BUCKET = 'mfb-e2e';
const AZ_CONTAINER = 'mfb-e2e';

/** `backupctl --config <file> ...args --json` as a real process. */
function cli(configFile: string, args: string[]): Promise<ProcessRun> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  const c = distNode(CLI, ['--config', configFile, ...args, '--json']);
  return runProcess(c.command, c.args, { cwd: ROOT, env });
}

function out<T = Record<string, unknown>>(r: ProcessRun): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

let s3: S3TestServer | undefined;
let gcs: GcsEmulator | null = null;
let az: Azurite | null = null;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  [s3, gcs, az] = await Promise.all([startS3rver(), startGcsEmulator({ buckets: [GCS_BUCKET] }), startAzurite()]);
  if (az) {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient(AZ_CONTAINER).createIfNotExists();
  }
}, 120_000);
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  await Promise.all([s3?.stop(), gcs?.stop(), az?.stop()]);
});

describe('disaster recovery from a bucket (s3, gs, azblob)', () => {
  it('backup -> upload to all three -> wipe the data dir -> catalog rebuild --from each -> restore: same rows, pins back', async (ctx) => {
    if (!gcs || !az) ctx.skip(); // loud skip already printed by @mfb/testkit
    const tmp = await tempDir('mfb-cloud-e2e-');
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'finance.db');
    await generateFinanceDb(dbPath, { sizeBytes: 512 * 1024, seed: 8 });
    const rows = summarizeFinanceDb(dbPath);
    const azKeyFile = join(tmp.dir, 'az-key.json');
    await writeFile(azKeyFile, JSON.stringify({ accountKey: az!.accountKey }), { mode: 0o600 });
    const badAzKeyFile = join(tmp.dir, 'az-bad-key.json');
    await writeFile(badAzKeyFile, JSON.stringify({ accountKey: Buffer.alloc(64, 7).toString('base64') }), { mode: 0o600 });

    const prefix = `e2e-${Date.now()}`;
    const targets = [
      { name: 's3', url: `s3://${s3!.bucket}/${prefix}`, options: { endpoint: s3!.endpoint, credentialsFile: s3!.credentialsFile, contentMd5: true }, retention: { keepLast: 5 } },
      { name: 'gs', url: `gs://${GCS_BUCKET}/${prefix}`, options: { apiEndpoint: gcs!.endpoint }, retention: { keepLast: 5 } },
      { name: 'az', url: `azblob://${az!.account}/${AZ_CONTAINER}/${prefix}`, options: { endpoint: az!.blobEndpoint, credentialsFile: azKeyFile }, retention: { keepLast: 5 } },
      // Bad input, never used by the database.
      { name: 'nobucket', url: `s3://no-such-bucket-${prefix}/x`, options: { endpoint: s3!.endpoint, credentialsFile: s3!.credentialsFile }, retention: { keepLast: 5 } },
      { name: 'badcreds', url: `azblob://${az!.account}/${AZ_CONTAINER}/${prefix}`, options: { endpoint: az!.blobEndpoint, credentialsFile: badAzKeyFile }, retention: { keepLast: 5 } },
    ];
    // The worker tests' config (file:// targets only), then the same file with the cloud targets.
    const base = await testConfig({ dir: tmp.dir, databases: [{ id: 'fin', path: dbPath, targets: [...TARGETS], keepLast: 5 }], targets: [...TARGETS] });
    const raw = JSON.parse(await readFile(base.file, 'utf8')) as Record<string, unknown>;
    const { config, file } = await kitConfig({ dir: tmp.dir, settings: { ...raw, targets }, redisPrefix: base.config.redis.prefix, redisUrl: base.config.redis.url });

    // Backup A: by the CLI into local storage, then pinned the way the API pins (marker, then
    // catalog); its uploads are enqueued for the worker, which copies the marker with it.
    const a = await cli(file, ['backup', 'fin']);
    expect(a.code, a.stderr).toBe(0);
    const backupA = out<{ backupId: string; artifactKey: string }>(a);
    let catalog: Catalog = await openCatalog(config.catalogPath);
    await writePinMarker(openStorage(config.storageUrl), backupA.artifactKey, backupA.backupId);
    await catalog.setPinned(backupA.backupId, true);

    const redis = createRedis(config.redis, 'worker');
    const queues = queuesFor(config, redis);
    cleanups.push(async () => {
      await closeQueues(queues);
      redis.disconnect();
    });
    const workers: WorkerProc[] = [];
    cleanups.push(() => stopAll(workers));
    workers.push(spawnWorker(file));
    await workers[0]!.waitForLog((l) => l['msg'] === 'worker ready', 60_000);
    for (const t of TARGETS) await enqueue(queues, 'upload', { databaseId: 'fin', backupId: backupA.backupId, target: t });
    // Backup B: a backup job, which chains its own uploads.
    await enqueue(queues, 'backup', { databaseId: 'fin', trigger: 'manual' });

    const everywhere = async () => {
      const page = await catalog.listBackups({ databaseId: 'fin', limit: 10 });
      const full = page.items.filter((b) => TARGETS.every((t) => b.locations.some((l) => l.target === t && l.deletedAt === null)));
      return full.length === 2 ? full : null;
    };
    const both = await waitUntil(everywhere, 90_000, 'both backups on all three targets').catch((err: Error) => {
      const failures = workers[0]!.logs.filter((l) => l['msg'] === 'job failed' || l['level'] === 50);
      throw new Error(`${err.message}; worker errors: ${JSON.stringify(failures.slice(0, 6))} stderr: ${workers[0]!.stderr.join('').slice(-1500)}`);
    });
    const backupB = both.find((b) => b.backupId !== backupA.backupId)!;
    workers[0]!.kill('SIGTERM');
    await workers[0]!.exited;
    await catalog.close();

    for (const t of TARGETS) {
      // A new machine: the config and the key, an empty data dir.
      await rm(config.dataDir, { recursive: true, force: true });
      const rb = await cli(file, ['catalog', 'rebuild', '--from', t]);
      expect(rb.code, `${t}: ${rb.stderr}`).toBe(0);
      expect(out(rb), t).toMatchObject({ target: t, scanned: 2, added: 2, pinsRestored: 1, skipped: [] });

      catalog = await openCatalog(config.catalogPath);
      expect((await catalog.getBackup(backupA.backupId))!.pinned, t).toBe(true);
      expect((await catalog.getBackup(backupB.backupId))!.pinned, t).toBe(false);
      await catalog.close();

      const to = join(tmp.dir, `restored-${t}.db`);
      const r = await cli(file, ['restore', backupB.backupId, '--from', t, '--to', to]);
      expect(r.code, `${t}: ${r.stderr}`).toBe(0);
      expect(out<{ integrity: string }>(r).integrity, t).toBe('ok');
      expect(summarizeFinanceDb(to), t).toEqual(rows);
      const v = await cli(file, ['verify', backupA.backupId, '--from', t]);
      expect(v.code, `${t}: ${v.stderr}`).toBe(0);
      expect(out<{ integrity: string }>(v).integrity).toBe('ok');
    }

    // Bad input: each a clear code, and no catalog (nothing partial) left behind.
    await rm(config.dataDir, { recursive: true, force: true });
    for (const [from, code, exit] of [
      ['moon', 'TARGET_NOT_FOUND', 4],
      ['nobucket', 'STORAGE_BUCKET_NOT_FOUND', 3],
      ['badcreds', 'STORAGE_AUTH_FAILED', 3],
    ] as const) {
      const bad = await cli(file, ['catalog', 'rebuild', '--from', from]);
      expect(bad.code, `${from}: ${bad.stderr}`).toBe(exit);
      expect(out<{ error: { code: string; message: string } }>(bad).error.code, from).toBe(code);
      expect(bad.stdout + bad.stderr).not.toContain(az!.accountKey);
      expect(existsSync(config.catalogPath), from).toBe(false);
    }
    await mkdir(config.dataDir, { recursive: true });
  }, 300_000);
});
