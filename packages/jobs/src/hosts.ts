import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { JobName } from './contract.js';
import type { RedisConnection } from './redis.js';

/**
 * Jobs that open the database file itself, so they must run on the host whose disk holds it: a
 * backup reads the file, a restore with `mode: 'replace'` writes it. Every other job (upload,
 * prune, verify, restore to a new file) works on storage and runs on any worker.
 */
export const HOST_BOUND_JOBS = ['backup', 'restore'] as const;
export type HostBoundJobName = (typeof HOST_BOUND_JOBS)[number];

/** The `host` of a database (config `databases[].host`); `undefined`: not bound, any worker. */
export type HostOf = (databaseId: string) => string | undefined;

/**
 * The host a `name` job with `payload` must run on, or `undefined` when any worker may run it:
 * backups and restores that replace the database, of a database that names a host.
 */
export function boundHost(name: JobName, payload: unknown, hostOf: HostOf): string | undefined {
  const p = (payload ?? {}) as { databaseId?: unknown; mode?: unknown };
  if (typeof p.databaseId !== 'string') return undefined;
  if (name === 'backup' || (name === 'restore' && p.mode === 'replace')) return hostOf(p.databaseId);
  return undefined;
}

/** Queue names are `<job>` (shared by every worker) or `<job>@<host>` (the workers of that host). */
const HOST_SEPARATOR = '@';

/** The queue of `name` jobs bound to `host`: `backup@db-1`. Only workers with `worker.host: db-1` take from it. */
export function hostQueueName(name: HostBoundJobName, host: string): string {
  return `${name}${HOST_SEPARATOR}${host}`;
}

/** The job name and host of a queue name: `backup@db-1` -> `{ job: 'backup', host: 'db-1' }`, `upload` -> `{ job: 'upload' }`. */
export function parseQueueName(queue: string): { job: string; host?: string } {
  const i = queue.indexOf(HOST_SEPARATOR);
  return i < 0 ? { job: queue } : { job: queue.slice(0, i), host: queue.slice(i + 1) };
}

/**
 * How often a worker renews its liveness entry, and how long the entry lives without a
 * renewal: a killed worker's host counts as served for at most this long.
 */
export const HEARTBEAT_TTL_MS = 15_000;

const registryKey = (prefix: string): string => `${prefix}:mfb:workers`;
const workerKey = (prefix: string, id: string): string => `${prefix}:mfb:worker:${id}`;

/** A worker's liveness entry in Redis; `stop` removes it (graceful shutdown; waits at most 2 s for Redis). */
export interface HostHeartbeat {
  /** This worker's id in the registry: `<machine>-<pid>-<random>`. */
  readonly id: string;
  stop(): Promise<void>;
}

/**
 * Announce that this process serves `host`: a key `<prefix>:mfb:worker:<id>` holding the host,
 * with a TTL of `ttlMs` renewed every third of it (Redis expires it when the process dies, so
 * no clock of another machine is involved), and the id in the set `<prefix>:mfb:workers`.
 * Renewal errors (Redis down) go to `onError` and are retried at the next beat.
 */
export async function startHostHeartbeat(
  redis: RedisConnection,
  prefix: string,
  host: string,
  opts: { ttlMs?: number; onError?: (err: unknown) => void } = {},
): Promise<HostHeartbeat> {
  const ttlMs = opts.ttlMs ?? HEARTBEAT_TTL_MS;
  const id = `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const beat = async (): Promise<void> => {
    await Promise.all([redis.set(workerKey(prefix, id), host, 'PX', ttlMs), redis.sadd(registryKey(prefix), id)]);
  };
  await beat();
  const timer = setInterval(() => beat().catch((err: unknown) => opts.onError?.(err)), Math.max(100, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    id,
    async stop() {
      clearInterval(timer);
      // A worker connection waits through a Redis outage; a shutdown must not. The entry then
      // expires on its own within ttlMs.
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([redis.del(workerKey(prefix, id)), redis.srem(registryKey(prefix), id)]),
        new Promise((r) => (timeout = setTimeout(r, 2000))),
      ]).finally(() => clearTimeout(timeout));
    },
  };
}

/**
 * Live workers per host (hosts without a live worker are absent). Entries whose key expired
 * (workers that died) are dropped from the registry on the way.
 */
export async function liveWorkersByHost(redis: RedisConnection, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const ids = await redis.smembers(registryKey(prefix));
  if (ids.length === 0) return out;
  const hosts = await redis.mget(...ids.map((id) => workerKey(prefix, id)));
  const dead: string[] = [];
  ids.forEach((id, i) => {
    const h = hosts[i];
    if (h === null || h === undefined) dead.push(id);
    else out.set(h, (out.get(h) ?? 0) + 1);
  });
  if (dead.length > 0) await redis.srem(registryKey(prefix), ...dead);
  return out;
}
