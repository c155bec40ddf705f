/**
 * The CLI's per-database lock on a real Redis Cluster (three masters, `redis-cli --cluster
 * create`): `backupctl backup` / `prune` and a worker job of the same database never run at the
 * same time, because both take the one lock key under the hash-tagged effective prefix
 * (`{prefix}:mfb:lock:db:<id>`, in the slot of the queues' keys). Real CLI processes, a real
 * BullMQ worker whose processor takes the lock as the worker's runner does (`locksFor`).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import type { Cluster } from 'ioredis';
import { generateFinanceDb } from '@mfb/demo-data';
import { closeQueues, createQueues, createRedis, effectivePrefix, enqueue, workerJobSettings, type Queues } from '@mfb/jobs';
import { locksFor } from '@mfb/runtime';
import { runProcess, startRedisCluster, distNode, type ProcessRun, type RedisTopologyServer } from '@mfb/testkit';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const main = join(repo, 'apps/cli/src/main.ts');

let cluster: RedisTopologyServer;
let fixtures: string;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => {
  cluster = await startRedisCluster(3);
  fixtures = mkdtempSync(join(tmpdir(), 'cli-clock-fx-'));
  await generateFinanceDb(join(fixtures, 'big.db'), { sizeBytes: 24 * 1024 * 1024, seed: 4, journalMode: 'wal' });
}, 180_000);
afterAll(async () => {
  rmSync(fixtures, { recursive: true, force: true });
  await cluster?.dispose();
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function cli(args: string[], dir: string, e: NodeJS.ProcessEnv): Promise<ProcessRun> {
  const c = distNode(main, args);
  return runProcess(c.command, c.args, { cwd: dir, env: e });
}

interface Held {
  start: number;
  end: number;
  token: string;
}

/** A database set up with `backupctl init` on the cluster, and a worker whose jobs take the database's lock as the real runner does. */
async function setUp(): Promise<{
  dir: string;
  e: NodeJS.ProcessEnv;
  key: string;
  redis: Cluster;
  queues: Queues;
  runs: Held[];
  busy: number[];
  gate: { open(): void; wait: Promise<void> | null };
}> {
  const dir = mkdtempSync(join(tmpdir(), 'cli-clock-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'live', 'finance.db');
  mkdirSync(dirname(db), { recursive: true });
  copyFileSync(join(fixtures, 'big.db'), db);
  const prefix = `t-${randomUUID().slice(0, 8)}`;
  const e = { PATH: process.env.PATH, HOME: dir, REDIS_URL: cluster.url, MFB_REDIS_PREFIX: prefix };
  const r = await cli(['init', '--json', '--database', `fin=${db}`], dir, e);
  expect(r.code, r.stderr).toBe(0);

  // What the worker reads from the same config (only the lock's part matters here).
  const settings = {
    redis: { url: cluster.url, prefix, tls: false },
    worker: { lockTtlMs: 30_000, lockReplicaTimeoutMs: 1000, lockReplicaRequired: false },
  } as Parameters<typeof locksFor>[0];
  const effective = effectivePrefix(settings.redis);
  const redis = createRedis(settings.redis, 'worker') as Cluster;
  redis.on('error', () => undefined);
  const queues = createQueues(redis, effective, { attempts: { backup: 100 }, backoffMs: 50 });
  const locks = locksFor(settings, redis);
  const runs: Held[] = [];
  const busy: number[] = [];
  const gate: { open(): void; wait: Promise<void> | null } = { open: () => undefined, wait: null };
  const worker = new Worker(
    'backup',
    async () => {
      const lock = await locks.tryAcquire('fin');
      if (!lock) {
        busy.push(Date.now());
        // As the runner: the database is busy, try again later (BullMQ's backoff here).
        throw new Error('database fin busy');
      }
      const start = Date.now();
      await (gate.wait ?? sleep(200));
      runs.push({ start, end: Date.now(), token: lock.token });
      await lock.release();
    },
    { connection: redis, prefix: effective, ...workerJobSettings() },
  );
  worker.on('error', () => undefined);
  cleanups.push(async () => {
    await worker.close();
    await queues.backup.obliterate({ force: true }).catch(() => undefined);
    await closeQueues(queues);
    redis.disconnect();
  });
  return { dir, e, key: locks.keyOf('fin'), redis, queues, runs, busy, gate };
}

const slotOf = async (redis: Cluster, key: string): Promise<number> => Number(await redis.nodes('master')[0]!.call('CLUSTER', 'KEYSLOT', key));

describe('backupctl and a worker on a Redis Cluster share the per-database lock', () => {
  it('while a worker job holds the database, backupctl backup and prune are refused (CLI_DATABASE_LOCKED) and change nothing', async () => {
    const { dir, e, key, redis, queues, runs, gate } = await setUp();
    // The lock key is under the hash-tagged prefix, in the slot of the queues' keys.
    expect(key).toMatch(/^\{t-[0-9a-f]{8}\}:mfb:lock:db:fin$/);
    expect(await slotOf(redis, key)).toBe(await slotOf(redis, `${queues.prefix}:backup:wait`));

    let open!: () => void;
    gate.wait = new Promise<void>((r) => (open = r));
    await enqueue(queues, 'backup', { databaseId: 'fin', trigger: 'api' });
    for (let i = 0; !(await redis.get(key)); i++) {
      if (i > 400) throw new Error('the worker job never took the lock');
      await sleep(25);
    }
    const blocked = await cli(['backup', 'fin', '--json', '--lock-wait', '0'], dir, e);
    expect(blocked.code, blocked.stderr).toBe(8);
    expect((JSON.parse(blocked.stdout) as { error: { code: string } }).error.code).toBe('CLI_DATABASE_LOCKED');
    const prune = await cli(['prune', 'fin', '--json'], dir, e);
    expect(prune.code, prune.stderr).not.toBe(0);
    expect((JSON.parse(prune.stdout) as { error: { code: string } }).error.code).toBe('CLI_DATABASE_LOCKED');
    const list = await cli(['list', 'fin', '--json'], dir, e);
    expect(JSON.parse(list.stdout)).toMatchObject({ items: [] });

    // The job ends: the CLI gets the lock.
    open();
    for (let i = 0; runs.length === 0; i++) {
      if (i > 400) throw new Error('the worker job did not finish');
      await sleep(25);
    }
    const ok = await cli(['backup', 'fin', '--json', '--lock-wait', '30'], dir, e);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await redis.get(key), 'the CLI released the lock').toBeNull();
  }, 180_000);

  it('while backupctl backup holds the database, a worker job of it waits; the two never overlap', async () => {
    const { dir, e, key, redis, queues, runs, busy } = await setUp();
    const c = distNode(main, ['backup', 'fin', '--json']);
    const child = spawn(c.command, c.args, { cwd: dir, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'close');
    // The CLI's lock, seen on the one key the workers use: first and last instant.
    let cliToken: string | null = null;
    let cliFirst = 0;
    let cliLast = 0;
    let enqueued = false;
    while (child.exitCode === null) {
      const owner = await redis.get(key);
      const now = Date.now();
      if (owner && !runs.some((r) => r.token === owner)) {
        cliToken ??= owner;
        expect(owner, 'one CLI run, one token').toBe(cliToken);
        cliFirst ||= now;
        cliLast = now;
        if (!enqueued) {
          enqueued = true;
          await enqueue(queues, 'backup', { databaseId: 'fin', trigger: 'api' });
        }
      }
      await sleep(5);
    }
    const [code] = await exited;
    expect(code, stderr).toBe(0);
    expect(cliToken, 'the CLI never held the hash-tagged lock key').not.toBeNull();
    for (let i = 0; runs.length === 0; i++) {
      if (i > 800) throw new Error('the worker job never ran');
      await sleep(25);
    }
    // The job tried while the CLI held the database and was turned away ...
    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0]!).toBeLessThanOrEqual(cliLast + 50);
    // ... and ran only after the CLI let go.
    expect(runs).toHaveLength(1);
    expect(runs[0]!.start).toBeGreaterThan(cliLast);
    expect(cliFirst).toBeLessThanOrEqual(cliLast);
  }, 180_000);
});
