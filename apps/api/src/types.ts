import type { Catalog } from '@mfb/catalog';
import type { Scope } from '@mfb/client';
import type { Config } from '@mfb/config';
import type { DatabaseLocks, Queues, RedisConnection } from '@mfb/jobs';
import type { Metrics } from '@mfb/observability';
import type { Storages } from '@mfb/runtime';
import type { StorageDriver } from '@mfb/storage';
import type { Logger } from 'pino';

/** What `buildApp` needs. Everything is injected so tests use real services with their own names. */
export interface ApiDeps {
  config: Config;
  catalog: Catalog;
  /** From `createQueues` of @mfb/jobs (its prefix isolates tests). */
  queues: Queues;
  /**
   * The Redis connection the queues use. The API takes the per-database lock on it
   * (`DatabaseLocks` of @mfb/jobs, under `queues.prefix`) before deleting a backup.
   */
  redis: RedisConnection;
  /** Storage per target; absent = `createStorages(config)` of @mfb/runtime. */
  storages?: Storages;
  /** Metrics exposed at /metrics; absent = a fresh registry with the process defaults. */
  metrics?: Metrics;
  /** Absent = `createLogger('api')` at `config.log.level`. */
  logger?: Logger;
  /** Clock for health computations (tests). */
  now?: () => Date;
}

export type { Scope };

/** Who is calling: an API key (by its public id) or the Bull Board admin user. */
export interface Principal {
  id: string;
  kind: 'api-key' | 'basic';
  scopes: ReadonlySet<Scope>;
}

/** Route-level auth: a scope, or `public` (liveness; `/metrics` when configured). */
export type RouteAuth = Scope | 'public';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    catalog: Catalog;
    queues: Queues;
    /** The per-database lock the worker takes for every job (invariant 5). */
    locks: DatabaseLocks;
    metrics: Metrics;
    /** Storage of a target (`local` = primary storage). @throws TargetNotFoundError */
    storageFor(target: string): StorageDriver;
    now(): Date;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Scope this route needs; default `admin` for routes that do not say. */
    auth?: RouteAuth;
  }
}
