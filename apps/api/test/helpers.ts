import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Catalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import { closeQueues, type Queues } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { openMigratedCatalog, queuesFor } from '@mfb/runtime';
import { testConfig } from '@mfb/testkit';
import type { Manifest } from '@mfb/backup';
import { buildApp, type BuildOptions } from '../src/index.js';
import { ContractChecker } from './contract.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const KEYS = {
  read: 'read-key-0123456789abcdef0123456789',
  write: 'write-key-0123456789abcdef012345678',
  admin: 'admin-key-0123456789abcdef012345678',
} as const;
export const ADMIN_USER = 'ops';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export function bearer(scope: keyof typeof KEYS): Record<string, string> {
  return { authorization: `Bearer ${KEYS[scope]}` };
}

export function basic(user: string, password: string): Record<string, string> {
  return { authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') };
}

/** Test settings (config file shape) on top of the testkit defaults: everything under `dir`. */
function testSettings(over: { api?: Record<string, unknown> }): Record<string, unknown> {
  return {
    dataDir: '.',
    databases: [
      { id: 'main', path: 'main.db' },
      { id: 'other', path: 'other.db' },
    ],
    targets: [{ name: 'nas', url: './nas' }],
    worker: { shutdownGraceMs: 5_000, attempts: { backup: 1, upload: 1, prune: 1, restore: 1, verify: 1 }, backoffMs: 1000 },
    api: {
      keys: [
        { id: 'reader', key: KEYS.read, scopes: ['read'] },
        { id: 'writer', key: KEYS.write, scopes: ['write'] },
        { id: 'administrator', key: KEYS.admin, scopes: ['admin'] },
      ],
      adminUser: ADMIN_USER,
      adminPassword: ADMIN_PASSWORD,
      rateLimitPerMinute: 100_000,
      bodyLimitBytes: 64 * 1024,
      ...over.api,
    },
  };
}

/**
 * The path the app really received: `inject` builds the request URL with WHATWG `URL`, which
 * resolves dot segments (`/v1/databases/.` is `/v1/databases/`), as browsers and most clients do.
 */
function asInjected(url: string): string {
  try {
    const u = new URL(url, 'http://localhost');
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

export interface TestApp {
  app: FastifyInstance;
  /** The app's OpenAPI document, compiled: check answers that did not go through `app.inject`. */
  checker: ContractChecker;
  config: Config;
  catalog: Catalog;
  queues: Queues;
  redis: Redis;
  dir: string;
  close(): Promise<void>;
}

/** A real app: Redis under a fresh prefix, a SQLite catalog and file storage in a temp dir. */
export async function startTestApp(over: { api?: Record<string, unknown> } = {}, logLines?: string[], build: BuildOptions = {}): Promise<TestApp> {
  const dir = await mkdtemp(join(tmpdir(), 'mfb-api-'));
  await mkdir(join(dir, 'backups'), { recursive: true, mode: 0o700 });
  await mkdir(join(dir, 'nas'), { recursive: true, mode: 0o700 });
  const prefix = `mfb-test-${randomUUID()}`;
  const { config } = await testConfig({ dir, redisUrl: REDIS_URL, redisPrefix: prefix, settings: testSettings(over) });
  const catalog = await openMigratedCatalog(config);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const queues = queuesFor(config, redis);
  const logger = logLines
    ? createLogger('api', { level: 'info', destination: { write: (s: string) => void logLines.push(s) } })
    : createLogger('api', { level: 'silent' });
  // Load shedding (503 OVERLOADED past 1 s of event-loop delay) is off unless a test asks for
  // it: on a busy shared CI machine it would otherwise answer whatever test is running.
  const app = await buildApp({ config, catalog, queues, redis, metrics: createMetrics(), logger }, { maxEventLoopDelayMs: 0, ...build });
  await app.ready();
  const checker = contractChecker(app);
  // Every answer a route suite receives is checked against the OpenAPI document.
  const inject = app.inject.bind(app) as (opts: unknown) => Promise<{ statusCode: number; headers: Record<string, string | string[] | number | undefined>; payload: string }>;
  const checkedInject = async (opts: unknown) => {
    const res = await inject(opts);
    const o = (typeof opts === 'string' ? { url: opts } : opts) as { method?: string; url?: string | { pathname?: string }; path?: string };
    const url = asInjected(typeof o.url === 'string' ? o.url : (o.path ?? '/'));
    checker.assert({ method: (o.method ?? 'GET').toUpperCase(), url, status: res.statusCode, headers: res.headers, body: res.payload });
    return res;
  };
  (app as unknown as { inject: unknown }).inject = (opts?: unknown) => (opts === undefined ? inject(opts) : checkedInject(opts));
  return {
    app,
    checker,
    config,
    catalog,
    queues,
    redis,
    dir,
    async close() {
      // A keep-alive connection whose response finished just after close() began stays open
      // until Fastify's keepAliveTimeout (72 s): cut connections after a short grace.
      const cut = setTimeout(() => app.server.closeAllConnections(), 500);
      await app.close();
      clearTimeout(cut);
      await closeQueues(queues);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await catalog.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const checkers = new Map<string, ContractChecker>();
/** The compiled OpenAPI document of `app` (compiled once per distinct document). */
export function contractChecker(app: FastifyInstance): ContractChecker {
  const doc = app.swagger() as Record<string, unknown>;
  const key = JSON.stringify(doc);
  let c = checkers.get(key);
  if (!c) checkers.set(key, (c = new ContractChecker(doc)));
  return c;
}

let seq = 0;
/** A catalog record as the engine would write it (ids follow the engine's format). */
export function fakeManifest(databaseId: string, createdAt: Date, size = 1234): Manifest {
  const ts = createdAt.toISOString().replace(/[-:]/g, '').replace('.', '');
  const hex = (seq++ & 0xffffffff).toString(16).padStart(8, '0');
  const backupId = `${ts.slice(0, 15)}${ts.slice(15, 18)}Z-${hex}`;
  return {
    formatVersion: 1,
    backupId,
    databaseId,
    createdAt: createdAt.toISOString(),
    artifactKey: `${databaseId}/${backupId}.sqlite.gz`,
    artifact: { sizeBytes: size, sha256: 'a'.repeat(64) },
    snapshot: {
      sizeBytes: size * 3,
      sha256: 'b'.repeat(64),
      method: 'vacuum-into',
      sqlite: { pageSize: 4096, pageCount: 3, userVersion: 0, journalMode: 'wal' },
    },
    compression: { algorithm: 'gzip', level: 6 },
    encryption: null,
    tool: { name: 'myfinance-backup', version: '0.1.0' },
  };
}

/**
 * A formatVersion 2 chain of fake manifests: a full of `fullBytes` at `start`, then `deltas`
 * deltas of `deltaBytes` each, one hour apart (each names its parent, as the engine writes them).
 */
export function fakeChain(databaseId: string, start: Date, deltas: number, fullBytes = 100_000, deltaBytes = 2_000): Manifest[] {
  const out: Manifest[] = [];
  for (let i = 0; i <= deltas; i++) {
    const m = fakeManifest(databaseId, new Date(start.getTime() + i * 3600_000), i === 0 ? fullBytes : deltaBytes);
    const parent = out[i - 1];
    const base = out[0] ?? m;
    out.push({
      ...m,
      formatVersion: 2,
      artifactKey: `${databaseId}/${m.backupId}${parent ? '.delta' : '.sqlite'}.gz`,
      snapshot: { ...m.snapshot, method: 'backup-api' },
      kind: parent ? 'delta' : 'full',
      parentId: parent ? parent.backupId : null,
      chainLength: i,
      ...(parent
        ? {
            parent: { backupId: parent.backupId, artifactKey: parent.artifactKey, snapshotSha256: parent.snapshot.sha256, pageCount: 3 },
            delta: { sizeBytes: deltaBytes * 2, sha256: 'c'.repeat(64), changedPages: 1 },
          }
        : {}),
      chain: { baseId: base.backupId, baseArtifactBytes: fullBytes, deltaArtifactBytes: i * deltaBytes },
      pageMap: { key: `${databaseId}/${m.backupId}.pagemap`, sizeBytes: 64, sha256: 'd'.repeat(64) },
    });
  }
  return out;
}

/** Is this a problem+json answer with the expected shape? */
export function problemOf(res: { headers: Record<string, unknown>; body: string; statusCode: number }): {
  code: string;
  status: number;
  detail: string;
  type: string;
  title: string;
  instance: string;
} {
  const ct = String(res.headers['content-type'] ?? '');
  if (!ct.startsWith('application/problem+json')) throw new Error(`expected problem+json, got ${ct} (${res.statusCode}): ${res.body.slice(0, 300)}`);
  const p = JSON.parse(res.body) as ReturnType<typeof problemOf>;
  if (p.status !== res.statusCode) throw new Error(`problem status ${p.status} != HTTP ${res.statusCode}`);
  for (const k of ['type', 'title', 'detail', 'code', 'instance'] as const) {
    if (typeof p[k] !== 'string') throw new Error(`problem lacks ${k}: ${res.body}`);
  }
  return p;
}

/** Place a fixture object in file storage directly (test setup, not the code under test). */
export async function putFile(storageUrl: string, key: string, bytes: Buffer): Promise<void> {
  const file = join(fileURLToPath(storageUrl), key);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, bytes, { mode: 0o600 });
}
