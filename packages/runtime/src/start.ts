import { mkdir } from 'node:fs/promises';
import { openCatalog, openPostgresCatalog, type Catalog } from '@mfb/catalog';
import { loadConfig, type Config } from '@mfb/config';
import { redactUrl } from '@mfb/errors';
import { DatabaseLocks, checkRedis, createQueues, effectivePrefix, type LockOptions, type QueueRouting, type Queues, type RedisConnection } from '@mfb/jobs';
import { createLogger, type Logger } from '@mfb/observability';
import { checkKeysInUse, KeyStillInUseError } from './keys.js';

/**
 * Open the catalog of `config` and bring its schema up to date: PostgreSQL when `catalogUrl` is
 * set (`?schema=name` picks the schema, default `mfb`), else the SQLite file at `catalogPath`.
 * Creates the data directory (0700) when missing; an existing directory keeps its mode (the
 * operator may have chosen it).
 */
export async function openMigratedCatalog(config: Pick<Config, 'dataDir' | 'catalogPath' | 'catalogUrl'>): Promise<Catalog> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  if (config.catalogUrl !== undefined) {
    const { url, schema } = splitSchema(config.catalogUrl);
    return openPostgresCatalog(url, schema ? { schema } : {});
  }
  const catalog = await openCatalog(config.catalogPath);
  await catalog.migrate();
  return catalog;
}

/**
 * {@link openMigratedCatalog}, then refuse a config whose `keys` lost a key that live backups
 * still need (the CLI's catalog; the API and the worker do the same in `startService`).
 * @throws KeyStillInUseError
 */
export async function openCheckedCatalog(config: Pick<Config, 'dataDir' | 'catalogPath' | 'catalogUrl' | 'keys'>): Promise<Catalog> {
  const catalog = await openMigratedCatalog(config);
  try {
    await checkKeysInUse(config, catalog);
  } catch (err) {
    await catalog.close();
    throw err;
  }
  return catalog;
}

/** `postgres://...?schema=x` -> the URL for the driver and the schema name. */
function splitSchema(catalogUrl: string): { url: string; schema?: string } {
  const u = new URL(catalogUrl);
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { url: u.href, ...(schema ? { schema } : {}) };
}

/**
 * The job queues over `redis`, with the config's retry settings (`worker.attempts`,
 * `worker.backoffMs`) and its databases' hosts (host-bound jobs go to their host's queues).
 */
export function queuesFor(config: Pick<Config, 'redis' | 'worker' | 'databases'>, redis: RedisConnection): Queues {
  return createQueues(redis, effectivePrefix(config.redis), { attempts: config.worker.attempts, backoffMs: config.worker.backoffMs }, routingFor(config));
}

/** Where the config's databases are (`databases[].host`): the routing of host-bound jobs. */
export function routingFor(config: Pick<Config, 'databases'>): QueueRouting {
  const hostById = new Map(config.databases.filter((d) => d.host !== undefined).map((d) => [d.id, d.host!]));
  return { hostOf: (id) => hostById.get(id), hosts: [...hostById.values()] };
}

/**
 * The per-database locks: one key space (`<prefix>:mfb:lock:db:<id>`), TTL and replica
 * acknowledgement (Sentinel) in every process; `log` gets the warnings of unreplicated locks.
 */
export function locksFor(config: Pick<Config, 'redis' | 'worker'>, redis: RedisConnection, log?: LockOptions['log']): DatabaseLocks {
  const w = config.worker;
  return new DatabaseLocks(redis, effectivePrefix(config.redis), w.lockTtlMs, {
    ...(w.lockReplicaTimeoutMs === 0 ? { replicas: 0 } : { replicaTimeoutMs: w.lockReplicaTimeoutMs }),
    requireReplica: w.lockReplicaRequired,
    ...(log ? { log } : {}),
  });
}

/** A start-up step failed; `exitCode` is what the process exits with (2: bad config, 1: otherwise). */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    readonly log?: Logger,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface Started {
  config: Config;
  log: Logger;
  catalog: Catalog;
}

/**
 * The start-up of a long-running process (API, worker), in order: load and validate the
 * config (`--config file` or the usual lookup), create the logger, check that Redis is
 * reachable and will not evict jobs, open and migrate the catalog, refuse a config that removed
 * a key live backups still need (KEY_STILL_IN_USE, exit 2).
 * @throws StartupError (exit code 2 for an invalid config, 1 for an unreachable Redis).
 */
export async function startService(
  service: string,
  opts: { configFile?: string | undefined; /** Default `process.env` (tests pass their own). */ env?: Record<string, string | undefined> } = {},
): Promise<Started> {
  let config: Config;
  try {
    config = await loadConfig({ ...(opts.configFile !== undefined ? { file: opts.configFile } : {}), ...(opts.env ? { env: opts.env } : {}) });
  } catch (err) {
    throw new StartupError(`invalid configuration: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
  const log = createLogger(service, { level: config.log.level });
  try {
    const check = await checkRedis(config.redis);
    if (!check.evictionSafe) {
      const msg =
        `Redis maxmemory-policy is "${check.maxmemoryPolicy}", not "noeviction": under memory pressure Redis ` +
        'will silently delete jobs and locks. Set `maxmemory-policy noeviction` in redis.conf.';
      log.warn({ maxmemoryPolicy: check.maxmemoryPolicy }, msg);
      process.stderr.write(`\n!!! WARNING: ${msg}\n\n`);
    }
  } catch (err) {
    log.fatal({ redis: redactUrl(config.redis.url) }, 'redis unreachable at start-up');
    throw new StartupError(err instanceof Error ? err.message : String(err), 1, log);
  }
  const catalog = await openMigratedCatalog(config);
  try {
    await checkKeysInUse(config, catalog);
  } catch (err) {
    await catalog.close();
    if (err instanceof KeyStillInUseError) {
      log.fatal({ code: err.code, keyIds: err.details?.['keyIds'] }, 'a removed key still protects live backups');
      throw new StartupError(`invalid configuration: ${err.code}: ${err.message}`, 2, log);
    }
    throw err;
  }
  return { config, log, catalog };
}

/**
 * Run a process's `main`: a StartupError exits with its code after printing
 * `<service>: <message>`; any other failure prints its stack and exits 1.
 */
export function runService(service: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof StartupError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`${service}: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}

