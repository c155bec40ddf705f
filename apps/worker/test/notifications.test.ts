/**
 * Notifications from the real worker (startWorker, real backup engine, catalog, storage and
 * Redis) to a real HTTP receiver: one failure and one recovery message per incident with job
 * retries configured (a message only for the final failure), heartbeat pings, and a receiver
 * that hangs never delays or fails a backup.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openCatalog } from '@mfb/catalog';
import { generateFinanceDb } from '@mfb/demo-data';
import { JOB_NAMES, enqueue } from '@mfb/jobs';
import { createLogger } from '@mfb/observability';
import { startWebhookReceiver, testConfig } from '@mfb/testkit';
import { createBackupHandler } from '../src/handlers/backup.handler.js';
import { handlers as realHandlers } from '../src/handlers/index.js';
import { startWorker, type WorkerRuntime } from '../src/runtime.js';
import { REDIS_URL, finished, tempDir, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function setup(notifications: Record<string, unknown>, backupAttempts = 3): Promise<{ runtime: WorkerRuntime; dbPath: string }> {
  const tmp = await tempDir('mfb-notify-');
  cleanups.push(() => tmp.dispose());
  const dbPath = join(tmp.dir, 'ledger.sqlite');
  await generateFinanceDb(dbPath, { sizeBytes: 128 * 1024, journalMode: 'delete' });
  const { config } = await testConfig({
    dir: tmp.dir,
    redisUrl: REDIS_URL,
    settings: {
      dataDir: './data',
      databases: [{ id: 'ledger', path: dbPath, compression: { algorithm: 'gzip', level: 1 }, retention: { keepLast: 3 } }],
      worker: { concurrency: 1, attempts: { backup: backupAttempts, upload: 1, prune: 1, restore: 1, verify: 1 }, backoffMs: 20 },
      notifications,
    },
  });
  const catalog = await openCatalog(config.catalogPath);
  await catalog.migrate();
  const runtime = await startWorker({
    config,
    catalog,
    log: createLogger('worker-test', { level: 'silent' }),
    http: false,
    // The real backup handler with a short busy timeout, so a locked source fails fast (transient, retried).
    handlers: { ...realHandlers, backup: createBackupHandler({ busyTimeoutMs: 50 }) },
  });
  cleanups.push(async () => {
    await runtime.close(1000);
    await catalog.close();
  });
  cleanups.push(async () => {
    for (const n of JOB_NAMES) await runtime.queues[n].obliterate({ force: true }).catch(() => undefined);
  });
  return { runtime, dbPath };
}

function holdExclusive(path: string): { release(): void } {
  const holder = new Database(path);
  holder.exec('BEGIN EXCLUSIVE');
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    holder.exec('ROLLBACK');
    holder.close();
  };
  cleanups.push(async () => release());
  return { release };
}

describe('worker notifications', () => {
  it('one failure and one recovery message per incident although every failed backup was retried; heartbeat after each outcome', async () => {
    // The receiver refuses every first delivery of a message once (503): notification retries too.
    const recv = await startWebhookReceiver({ answer: (_path, nth) => (nth % 2 === 1 ? 503 : 200) });
    cleanups.push(() => recv.close());
    const { runtime, dbPath } = await setup({
      webhooks: [
        { url: `${recv.url}/generic`, format: 'json' },
        { url: `${recv.url}/slack/T0/B0/secret`, format: 'slack' },
        { url: `${recv.url}/discord/123/token`, format: 'discord' },
      ],
      heartbeatUrl: `${recv.url}/ping/ledger-check`,
      attempts: 3,
      backoffMs: 10,
    });
    const q = runtime.queues;
    const backup = async () => (await finished(q, await enqueue(q, 'backup', { databaseId: 'ledger', trigger: 'api' }))).getState();

    expect(await backup()).toBe('completed');
    const lock = holdExclusive(dbPath);
    // Two backups fail, each after 3 attempts (6 failed runs): one incident.
    expect(await backup()).toBe('failed');
    expect(await backup()).toBe('failed');
    lock.release();
    expect(await backup()).toBe('completed');
    expect(await backup()).toBe('completed');
    // close() lets pending notifications finish.
    await runtime.close(1000);

    for (const path of ['/generic', '/slack/T0/B0/secret', '/discord/123/token']) {
      expect(recv.delivered(path), path).toHaveLength(2);
    }
    expect(recv.delivered('/generic').map((r) => r.json?.['event'])).toEqual(['failure', 'recovery']);
    expect(recv.delivered('/generic')[0]!.json).toMatchObject({ databaseId: 'ledger', job: 'backup', error: expect.stringContaining('BACKUP_SOURCE_BUSY') });
    expect(recv.delivered('/slack/T0/B0/secret')[0]!.json!['text']).toContain('Backup of ledger failed');
    expect(recv.delivered('/discord/123/token')[1]!.json!['content']).toContain('Backup of ledger recovered');
    // Heartbeat: a ping per success, /fail per finally failed backup (not per attempt).
    expect(recv.delivered().filter((r) => r.path.startsWith('/ping')).map((r) => r.path)).toEqual([
      '/ping/ledger-check',
      '/ping/ledger-check/fail',
      '/ping/ledger-check/fail',
      '/ping/ledger-check',
      '/ping/ledger-check',
    ]);
  });

  it('a receiver that never answers neither delays nor fails the backup', async () => {
    const recv = await startWebhookReceiver({ hang: true });
    cleanups.push(() => recv.close());
    const { runtime } = await setup({ webhooks: [{ url: `${recv.url}/hook`, format: 'json' }], heartbeatUrl: `${recv.url}/ping/x`, timeoutMs: 60_000, attempts: 5 }, 1);
    const q = runtime.queues;
    const job = await finished(q, await enqueue(q, 'backup', { databaseId: 'ledger', trigger: 'api' }));
    expect(await job.getState()).toBe('completed');
    // Its heartbeat was sent and is still held open by the receiver (it would be for minutes).
    await waitUntil(async () => recv.pending() === 1);
    const second = await finished(q, await enqueue(q, 'backup', { databaseId: 'ledger', trigger: 'api' }));
    expect(await second.getState()).toBe('completed');
    await waitUntil(async () => recv.pending() === 2);
    expect(recv.received.every((r) => r.path === '/ping/x')).toBe(true);
  });
});
