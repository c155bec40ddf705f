import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { Manifest } from '@mfb/backup';
import { openCatalog, type Catalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import { closeQueues, createQueues, createRedis, type Queues } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { createStorages, locksFor, queuesFor, routingFor } from '@mfb/runtime';
import { testConfig as kitConfig, distNode } from '@mfb/testkit';
import { handlers } from '../src/handlers/index.js';
import { createProcessor } from '../src/runner.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ROOT = resolve(import.meta.dirname, '../../..');
const MAIN = join(ROOT, 'apps/worker/src/main.ts');

export async function tempDir(prefix = 'mfb-worker-'): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export interface TestConfigInput {
  dir: string;
  redisUrl?: string;
  databases: Array<{ id: string; path: string; host?: string; targets?: string[]; keepLast?: number; schedules?: Config['databases'][number]['schedules']; snapshotMethod?: 'stream' | 'backup-api' | 'vacuum-into' }>;
  targets?: string[];
  concurrency?: number;
  lockTtlMs?: number;
  shutdownGraceMs?: number;
  attempts?: Partial<Config['worker']['attempts']>;
  backoffMs?: number;
  localKeepLast?: number;
  /** `postgres://...`: the PostgreSQL catalog instead of the SQLite file. */
  catalogUrl?: string;
}

/** A Config for in-process tests (through `loadConfig`), and its file for worker processes. */
export async function testConfig(input: TestConfigInput): Promise<{ config: Config; file: string }> {
  for (const t of input.targets ?? []) await mkdir(join(input.dir, 'targets', t), { recursive: true, mode: 0o700 });
  const { config, file } = await kitConfig({
    dir: input.dir,
    redisUrl: input.redisUrl ?? REDIS_URL,
    settings: {
      dataDir: './data',
      ...(input.catalogUrl ? { catalogUrl: input.catalogUrl } : {}),
      localRetention: { keepLast: input.localKeepLast ?? 3 },
      databases: input.databases.map((db) => ({
        id: db.id,
        path: db.path,
        ...(db.host !== undefined ? { host: db.host } : {}),
        ...(db.snapshotMethod !== undefined ? { snapshot: { method: db.snapshotMethod } } : {}),
        compression: { algorithm: 'gzip', level: 1 },
        targets: db.targets ?? [],
        retention: { keepLast: db.keepLast ?? 3 },
        schedules: db.schedules ?? [],
      })),
      targets: (input.targets ?? []).map((name) => ({ name, url: `./targets/${name}`, retention: { keepLast: 2 } })),
      worker: {
        concurrency: input.concurrency ?? 2,
        lockTtlMs: input.lockTtlMs ?? 3000,
        shutdownGraceMs: input.shutdownGraceMs ?? 10_000,
        attempts: { backup: 3, upload: 3, prune: 2, restore: 1, verify: 2, ...input.attempts },
        backoffMs: input.backoffMs ?? 200,
      },
      api: { metricsPublic: true, rateLimitPerMinute: 1000, bodyLimitBytes: 1_000_000 },
      // Tests read the worker's log lines (`worker ready`, ...).
      log: { level: 'info' },
    },
  });
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  return { config, file };
}

export interface WorkerProc {
  proc: ChildProcess;
  pid: number;
  logs: Array<Record<string, unknown>>;
  stderr: string[];
  exited: Promise<number | null>;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal: NodeJS.Signals): void;
}

/** The test's environment without settings that would override the config file. */
function workerEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'REDIS_URL' && !k.startsWith('MFB_')) out[k] = v;
  return out;
}

/** Spawn the worker (`apps/worker/src/main.ts --config file`, compiled: see `distNode`) as a real process. */
export function spawnWorker(configFile: string, extraArgs: string[] = [], env: Record<string, string> = {}): WorkerProc {
  const cmd = distNode(MAIN, ['--config', configFile, ...extraArgs]);
  const proc = spawn(cmd.command, cmd.args, {
    cwd: ROOT,
    env: { ...workerEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so SIGKILL also reaches anything the worker started.
    detached: true,
  });
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  proc.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  return {
    proc,
    pid: proc.pid!,
    logs,
    stderr,
    exited,
    async waitForLog(pred, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs.find(pred);
        if (hit) return hit;
        if (proc.exitCode !== null) throw new Error(`worker ${proc.pid} exited (${proc.exitCode}): ${stderr.join('').slice(-2000)}`);
        if (Date.now() > until) throw new Error(`timeout waiting for log line; last: ${JSON.stringify(logs.slice(-5))} stderr: ${stderr.join('').slice(-1000)}`);
        await sleep(25);
      }
    },
    kill(signal) {
      // SIGTERM/SIGINT to the worker itself; SIGKILL to its whole group.
      if (signal === 'SIGKILL') process.kill(-proc.pid!, 'SIGKILL');
      else proc.kill(signal);
    },
  };
}

export async function stopAll(workers: WorkerProc[]): Promise<void> {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
}

export async function waitUntil<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timeout waiting for ${what}`);
    await sleep(50);
  }
}

/** Every file below `dir`, relative paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(d, e.name), rel ? `${rel}/${e.name}` : e.name);
      else out.push(rel ? `${rel}/${e.name}` : e.name);
    }
  };
  await walk(dir, '');
  return out.sort();
}

/** The job once it is `completed` or `failed` (read after its state changed, so its fields are final). */
export async function finished(queues: Queues, job: Job | { id?: string; queueName: string }): Promise<Job> {
  const q = queues.all().find((x) => x.name === job.queueName)!;
  return waitUntil(
    async () => {
      // State first, then the job: a job read before its state changed lacks its final fields.
      const s = await q.getJobState(String(job.id));
      return s === 'completed' || s === 'failed' ? ((await q.getJob(String(job.id))) as Job) : null;
    },
    60_000,
    `job ${job.id} finished`,
  );
}

/**
 * Wait until no queue has waiting, active or delayed jobs. The next run of a job scheduler
 * (the restore drill every database has by default) waits as a delayed `repeat:` job: not work.
 */
export async function idle(queues: Queues): Promise<void> {
  await waitUntil(async () => {
    for (const q of queues.all()) {
      const c = await q.getJobCounts('waiting', 'active', 'delayed');
      if ((c.waiting ?? 0) + (c.active ?? 0) > 0) return false;
      if ((c.delayed ?? 0) > 0 && (await q.getDelayed()).some((j) => !String(j.id).startsWith('repeat:'))) return false;
    }
    return true;
  }, 60_000, 'queues idle');
}

/**
 * Producer-side queues on a test config's Redis prefix, routing host-bound jobs by the config's
 * `databases[].host`; `dispose` obliterates them and disconnects.
 */
export function producerQueues(config: Config): { redis: ReturnType<typeof createRedis>; queues: Queues; dispose(): Promise<void> } {
  const redis = createRedis(config.redis, 'producer');
  const queues = createQueues(redis, config.redis.prefix, {}, routingFor(config));
  return {
    redis,
    queues,
    async dispose() {
      for (const q of queues.all()) await q.obliterate({ force: true }).catch(() => undefined);
      await closeQueues(queues);
      redis.disconnect();
    },
  };
}

/**
 * Spawn `count` worker processes and wait until each is ready. They are stopped by the
 * cleanup registered in `cleanups` (also when a worker never gets ready).
 */
export async function spawnReadyWorkers(count: number, configFile: string, cleanups: Array<() => Promise<unknown>>, extraArgs: string[] = []): Promise<WorkerProc[]> {
  const workers = Array.from({ length: count }, () => spawnWorker(configFile, extraArgs));
  cleanups.push(() => stopAll(workers));
  await Promise.all(workers.map((w) => w.waitForLog((l) => l.msg === 'worker ready')));
  return workers;
}

/**
 * The worker's job runner in this process (no BullMQ workers): the test hands jobs to
 * `processor` itself. Catalog, queues and Redis connection are closed by `cleanups`.
 */
export async function inProcessRunner(config: Config, cleanups: Array<() => Promise<unknown>>): Promise<{ catalog: Catalog; queues: Queues; processor: ReturnType<typeof createProcessor> }> {
  const catalog = await openCatalog(config.catalogPath);
  cleanups.push(() => catalog.close());
  const connection = createRedis(config.redis, 'worker');
  const queues = queuesFor(config, connection);
  cleanups.push(async () => {
    for (const q of queues.all()) await q.obliterate({ force: true }).catch(() => undefined);
    await closeQueues(queues);
    connection.disconnect();
  });
  const processor = createProcessor({
    config,
    catalog,
    queues,
    locks: locksFor(config, connection),
    metrics: createMetrics(undefined, { defaults: false }),
    log: createLogger('test', { level: 'silent' }),
    handlers,
    storages: createStorages(config),
    shutdownSignal: new AbortController().signal,
  });
  return { catalog, queues, processor };
}

/**
 * A formatVersion 1 manifest with no artifact behind it (catalog rows for prune, housekeeping
 * and space tests); `n` makes the id unique within the second of `createdAt`.
 */
export function fakeManifest(databaseId: string, createdAt: Date, n: number, sizes: { artifact?: number; snapshot?: number } = {}): Manifest {
  const backupId = `${createdAt.toISOString().replace(/[-:.]/g, '').slice(0, 15)}000Z-${n.toString(16).padStart(8, '0')}`;
  const h = (s: string): string => createHash('sha256').update(s).digest('hex');
  return {
    formatVersion: 1,
    backupId,
    databaseId,
    createdAt: createdAt.toISOString(),
    artifactKey: `${databaseId}/${backupId}.sqlite.gz`,
    artifact: { sizeBytes: sizes.artifact ?? 100, sha256: h('a' + backupId) },
    snapshot: { sizeBytes: sizes.snapshot ?? 100, sha256: h('s' + backupId), method: 'vacuum-into', sqlite: { pageSize: 4096, pageCount: 1, userVersion: 0, journalMode: 'wal' } },
    compression: { algorithm: 'gzip', level: 1 },
    encryption: null,
    tool: { name: 'myfinance-backup', version: '0.1.0' },
  };
}
