import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redactUrl } from '@mfb/errors';
import { RedisUnavailableError } from './errors.js';

/** The `redis` part of the config. */
export interface RedisSettings {
  url: string;
  tls: boolean;
}

/** One Redis, a Sentinel-managed primary, or a Cluster: what queues, locks and rate limits run on. */
export type RedisConnection = Redis | Cluster;

/** How `redis.url` reaches Redis. */
export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: Array<{ host: string; port: number }>; name: string; db: number; username?: string; password?: string }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }>; username?: string; password?: string };

/** `redis://`, `rediss://`, `redis+sentinel://`, `rediss+sentinel://`, `redis+cluster://`, `rediss+cluster://`. */
export const REDIS_URL_PATTERN = /^rediss?(\+sentinel|\+cluster)?:\/\/[^\s]+$/;

function hosts(list: string, defaultPort: number, url: string): Array<{ host: string; port: number }> {
  return list.split(',').map((hp) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp);
    if (!m?.[1]) throw new Error(`${redactUrl(url)}: "${hp}" is not host[:port]`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : defaultPort };
  });
}

/**
 * Read a Redis URL:
 * - `redis://[user:pass@]host:port[/db]` one server (ioredis reads it as is);
 * - `redis+sentinel://[user:pass@]s1:26379,s2:26379/<primary name>[/db]` the primary that the
 *   sentinels name, followed through failovers (user/password are the data nodes'; sentinels
 *   without auth);
 * - `redis+cluster://[user:pass@]n1:6379,n2:6379` a Redis Cluster, seeded from those nodes.
 * `rediss` in any of them turns TLS on.
 */
export function parseRedisUrl(url: string): RedisTopology {
  const m = /^(rediss?)(\+sentinel|\+cluster)?:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)(\/[^?#]*)?$/.exec(url);
  if (!m) throw new Error(`${redactUrl(url)} is not a redis://, redis+sentinel:// or redis+cluster:// URL`);
  const [, , mode, user, pass, hostList = '', path = ''] = m;
  const auth = { ...(user ? { username: decodeURIComponent(user) } : {}), ...(pass ? { password: decodeURIComponent(pass) } : {}) };
  if (mode === '+sentinel') {
    const [name, db] = path.split('/').filter(Boolean);
    if (!name) throw new Error(`${redactUrl(url)}: name the primary after the sentinels, e.g. redis+sentinel://s1:26379,s2:26379/mymaster`);
    if (db !== undefined && !/^\d+$/.test(db)) throw new Error(`${redactUrl(url)}: database "${db}" must be a number`);
    return { kind: 'sentinel', sentinels: hosts(hostList, 26379, url), name: decodeURIComponent(name), db: db ? Number(db) : 0, ...auth };
  }
  if (mode === '+cluster') {
    if (path.replace(/\//g, '') !== '') throw new Error(`${redactUrl(url)}: a cluster has no database number (only db 0 exists)`);
    return { kind: 'cluster', nodes: hosts(hostList, 6379, url), ...auth };
  }
  return { kind: 'single', url };
}

/**
 * The BullMQ prefix to use: Redis Cluster runs a Lua script only on keys of one slot, and every
 * BullMQ script touches several keys of a queue, so on a cluster the prefix must be a hash tag
 * (`{mfb}`): the configured prefix is wrapped unless it already holds one.
 */
export function effectivePrefix(settings: { url: string; prefix: string }): string {
  if (!/^rediss?\+cluster:/.test(settings.url) || /\{[^}]+\}/.test(settings.prefix)) return settings.prefix;
  return `{${settings.prefix}}`;
}

/**
 * True for a connection to a Sentinel-managed primary: its writes reach the replica that a
 * failover promotes only asynchronously (the per-database lock then `WAIT`s for it).
 */
export function hasReplicas(connection: RedisConnection): boolean {
  return connection instanceof Redis && (connection.options.sentinels?.length ?? 0) > 0;
}

/**
 * A new connection from config (one server, Sentinel or Cluster). `role: 'worker'` sets
 * `maxRetriesPerRequest: null` (BullMQ workers must wait through a Redis restart or failover
 * rather than fail commands); producers (the API) fail fast so an HTTP request does not hang
 * while Redis is down. Both reconnect forever with a capped backoff.
 */
export function createRedis(settings: RedisSettings, role: 'worker' | 'producer', extra: RedisOptions = {}): RedisConnection {
  const opts: RedisOptions = {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * times, 5000),
    ...(settings.tls ? { tls: {} } : {}),
    ...extra,
  };
  const topology = parseRedisUrl(settings.url);
  switch (topology.kind) {
    case 'single':
      return new Redis(settings.url, opts);
    case 'sentinel': {
      const { sentinels, name, db, username, password } = topology;
      return new Redis({
        ...opts,
        sentinels,
        name,
        db,
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        // A failover closes the old primary's connections; find the new one at once.
        sentinelRetryStrategy: (times) => Math.min(100 * times, 2000),
        // ... but Sentinel reconfigures the old primary (and so closes those connections) only
        // seconds after it promoted the replica; meanwhile the old primary still answers, and
        // every write it takes is lost when it becomes a replica. Listen for the sentinels'
        // +switch-master and move to the new primary as soon as they announce it.
        failoverDetector: true,
        ...(settings.tls ? { enableTLSForSentinelMode: true } : {}),
      });
    }
    case 'cluster': {
      const { nodes, username, password } = topology;
      const { lazyConnect, retryStrategy, maxRetriesPerRequest, ...nodeOpts } = opts;
      const clusterOpts: ClusterOptions = {
        ...(lazyConnect !== undefined ? { lazyConnect } : {}),
        enableReadyCheck: true,
        clusterRetryStrategy: (times) => (retryStrategy ? (retryStrategy(times) ?? null) : Math.min(200 * times, 5000)),
        // BullMQ needs `maxRetriesPerRequest: null` on the node connections of a worker too.
        redisOptions: { ...nodeOpts, maxRetriesPerRequest, ...(username ? { username } : {}), ...(password ? { password } : {}) },
      };
      return new Cluster(nodes, clusterOpts);
    }
  }
}

export interface RedisCheck {
  /** `maxmemory-policy` as reported by INFO; `unknown` if the server hides it. */
  maxmemoryPolicy: string;
  /** False when keys (jobs, locks) may be evicted under memory pressure. */
  evictionSafe: boolean;
  version: string;
}

/**
 * Start-up check: Redis is reachable within `timeoutMs` and its `maxmemory-policy` is
 * `noeviction` (anything else lets Redis silently drop jobs and locks under memory pressure).
 * On a cluster every master is asked; the first that allows eviction is reported.
 * @throws RedisUnavailableError with instructions to start Redis.
 */
export async function checkRedis(settings: RedisSettings, timeoutMs = 5000): Promise<RedisCheck> {
  const client = createRedis(settings, 'producer', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    const infos = await withTimeout(readInfos(client), timeoutMs);
    const checks = infos.map((info) => {
      const field = (k: string): string | undefined => info.match(new RegExp(`^${k}:(.*)$`, 'm'))?.[1]?.trim();
      const policy = field('maxmemory_policy') ?? 'unknown';
      return { maxmemoryPolicy: policy, evictionSafe: policy === 'noeviction', version: field('redis_version') ?? 'unknown' };
    });
    return checks.find((c) => !c.evictionSafe) ?? (checks[0] as RedisCheck);
  } catch (err) {
    throw new RedisUnavailableError(redactUrl(settings.url), err);
  } finally {
    client.disconnect();
  }
}

async function readInfos(client: RedisConnection): Promise<string[]> {
  await client.connect();
  if (client instanceof Cluster) return Promise.all(client.nodes('master').map((n) => n.info()));
  return [await client.info()];
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
