import { existsSync, realpathSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
import { isSecretName, redactUrl } from '@mfb/errors';
import { ID_RE, ID_RULE, SCOPES } from '@mfb/client';
import type { TSchema } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';
import { ConfigError } from './errors.js';
import { decodeKey, readKeyFile } from './keyfile.js';
import { ConfigFileSchema, check } from './schema/index.js';
import { ApiSchema, CorsOriginSchema } from './schema/api.js';
import { HEALTH_DEFAULTS } from './schema/health.js';
import { LogSchema } from './schema/log.js';
import { NOTIFY_DEFAULTS, redactHookUrls, webhooksOf } from './schema/notifications.js';
import { PathsSchema, absolutizeStorageUrl } from './schema/paths.js';
import { RedisSchema } from './schema/redis.js';
import { WorkerSchema } from './schema/worker.js';
import type {
  ApiKeyConfig,
  RestoreDrillConfig,
  CompressionConfig,
  Config,
  DatabaseConfig,
  DatabaseHealthConfig,
  WebhookConfig,
  IncrementalConfig,
  SnapshotConfig,
  RetentionConfig,
  ScheduleConfig,
  TargetConfig,
} from './types.js';
import { Problems, join, show } from './validate.js';

export { DEFAULTS } from './defaults.js';
export { keyFileModeProblem } from './keyfile.js';

export interface LoadConfigOptions {
  /** Config file; default env `MFB_CONFIG`, else `<cwd>/mfb.config.yaml` when it exists, else none. */
  file?: string;
  /** Environment; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Base for relative paths from the environment and for the defaults; default `process.cwd()`. */
  cwd?: string;
}

/** File name looked up in the working directory when no config file is named. */
export const DEFAULT_CONFIG_FILE = 'mfb.config.yaml';

/** Schedule id of the restore drill (`restoreDrill`); reserved in `schedules`. */
export { RESTORE_DRILL_SCHEDULE_ID } from './defaults.js';

/** The config file after the schema check: invalid parts left out (see schema/check.ts). */
interface FileShape {
  dataDir?: string;
  catalogPath?: string;
  catalogUrl?: string;
  tmpDir?: string;
  storageUrl?: string;
  localRetention?: RetentionConfig;
  keys?: Array<{ id?: string; base64?: string; file?: string } | undefined>;
  databases?: Array<
    | {
        id?: string;
        path?: string;
        host?: string;
        compression?: CompressionConfig;
        encryptionKeyId?: string;
        targets?: Array<string | undefined>;
        retention?: RetentionConfig;
        schedules?: Array<ScheduleConfig | undefined>;
        restoreDrill?: RestoreDrillConfig;
        health?: DatabaseHealthConfig;
        notifications?: RawNotifications;
        incremental?: IncrementalConfig;
        snapshot?: SnapshotConfig;
      }
    | undefined
  >;
  targets?: Array<{ name?: string; url?: string; options?: Record<string, string | number | boolean>; retention?: RetentionConfig } | undefined>;
  redis?: { url?: string; prefix?: string; tls?: boolean };
  worker?: Partial<Omit<Config['worker'], 'attempts'>> & { attempts?: Partial<Config['worker']['attempts']> };
  api?: Partial<Omit<Config['api'], 'keys'>> & { keys?: Array<{ id?: string; key?: string; scopes?: unknown[] } | undefined> };
  health?: Partial<Config['health']>;
  notifications?: RawNotifications & Partial<Omit<Config['notifications'], 'webhooks' | 'heartbeatUrl'>>;
  log?: { level?: Config['log']['level'] };
  housekeeping?: Partial<Config['housekeeping']>;
}

type RawNotifications = {
  webhooks?: Array<{ url?: string; format?: WebhookConfig['format']; events?: Array<'failure' | 'recovery' | undefined> } | undefined>;
  heartbeatUrl?: string;
};

/** The schema of one field of an object schema (to check an environment value with it). */
function field(objectSchema: TSchema, key: string): TSchema {
  return (objectSchema as unknown as { properties: Record<string, TSchema> }).properties[key]!;
}

/** A Map that cannot be changed after construction (the config is frozen, keys included). */
class FrozenMap<K, V> extends Map<K, V> {
  private sealed = false;
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [k, v] of entries) super.set(k, v);
    this.sealed = true;
  }
  override set(k: K, v: V): this {
    if (this.sealed) throw new TypeError('config.keys is read-only');
    return super.set(k, v);
  }
  override delete(): boolean {
    throw new TypeError('config.keys is read-only');
  }
  override clear(): void {
    throw new TypeError('config.keys is read-only');
  }
}

/**
 * The machine's name as a host id (default of `worker.host`): lower case, characters outside
 * `HOST_PATTERN` replaced by `-`, at most 63 characters.
 */
function machineHost(name: string = hostname()): string {
  const id = name.toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63);
  return id === '' ? 'localhost' : id;
}

function deepFreeze<T>(o: T): T {
  if (o === null || typeof o !== 'object' || Buffer.isBuffer(o) || o instanceof Map) return o;
  for (const v of Object.values(o as object)) deepFreeze(v);
  return Object.freeze(o);
}

function envStr(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** Read and parse the file (YAML; JSON is YAML). Syntax errors name file, line and column. */
function readFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('CONFIG_INVALID', `config file ${file} cannot be read (${code})`, [`${file}: cannot be read (${code})`], err);
  }
  const lc = new LineCounter();
  // prettyErrors off: the pretty form quotes the offending source line, which may hold a secret.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = lc.linePos(e.pos[0]);
      return `${file}:${pos.line}:${pos.col}: ${e.message.split('\n')[0]}`;
    });
    throw new ConfigError('CONFIG_INVALID', `invalid configuration: YAML syntax: ${problems.join('; ')}`, problems);
  }
  return doc.toJS() ?? {};
}

/**
 * The same database file under two ids is refused: the per-database lock is keyed by id, so
 * two jobs could snapshot one file at once. Files are compared by real path when they exist
 * (symlinks, `..`), else by resolved path.
 */
function checkDistinctFiles(p: Problems, dbs: Array<{ index: number; id: string; path: string }>): void {
  const byFile = new Map<string, { index: number; id: string }>();
  for (const d of dbs) {
    let real: string;
    try {
      real = realpathSync(d.path);
    } catch {
      real = path.resolve(d.path);
    }
    const first = byFile.get(real);
    if (first) {
      p.add(
        join(join('databases', d.index), 'path'),
        `databases "${first.id}" and "${d.id}" are the same file ${real}; configure each database file once (one id per file)`,
      );
    } else byFile.set(real, { index: d.index, id: d.id });
  }
}

/**
 * Load, validate and freeze the configuration.
 *
 * Precedence: embedded defaults < config file < environment. See `docs/configuration.md`
 * for every option and environment variable. The file is checked against one declarative
 * schema (src/schema/, TypeBox), environment values against the same field schemas. Relative
 * paths in the file are resolved against the file's directory; relative paths from the
 * environment and the defaults against `cwd`. Throws {@link ConfigError} (CONFIG_INVALID,
 * CONFIG_FILE_NOT_FOUND) naming every bad field; secret values are never part of the message.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = path.resolve(opts.cwd ?? process.cwd());

  // ---- locate and parse the file
  let file: string | undefined;
  const named = opts.file ?? envStr(env, 'MFB_CONFIG');
  if (named !== undefined) {
    file = path.resolve(cwd, named);
    if (!existsSync(file)) {
      const via = opts.file !== undefined ? '' : ' (from MFB_CONFIG)';
      throw new ConfigError('CONFIG_FILE_NOT_FOUND', `config file ${file}${via} does not exist`, [`${file}: does not exist`]);
    }
  } else if (existsSync(path.join(cwd, DEFAULT_CONFIG_FILE))) {
    file = path.join(cwd, DEFAULT_CONFIG_FILE);
  }
  const raw = file !== undefined ? readFile(file) : {};
  const fileBase = file !== undefined ? path.dirname(file) : cwd;

  // ---- the schema check of the whole file: every structural problem at once
  const p = new Problems();
  const top = (check(ConfigFileSchema, raw ?? {}, '', p) ?? {}) as FileShape;

  /** An environment value, checked with the schema of the file field it overrides. */
  const fromEnv = <T>(name: string, schema: TSchema, parse: (v: string) => unknown = (v) => v): T | undefined => {
    const e = envStr(env, name);
    if (e === undefined) return undefined;
    return check(schema, parse(e), `env ${name}`, p) as T | undefined;
  };
  const int = (v: string): unknown => (/^-?\d+$/.test(v) ? Number(v) : v);

  // ---- paths
  const envDataDir = envStr(env, 'MFB_DATA_DIR');
  const dataDir = envDataDir !== undefined ? path.resolve(cwd, envDataDir) : path.resolve(fileBase, top.dataDir ?? DEFAULTS.dataDir);
  const pathOpt = (key: 'catalogPath' | 'tmpDir', envName: string, dflt: string): string => {
    const e = envStr(env, envName);
    if (e !== undefined) return path.resolve(cwd, e);
    const f = top[key];
    return f !== undefined ? path.resolve(fileBase, f) : dflt;
  };
  const catalogPath = pathOpt('catalogPath', 'MFB_CATALOG_PATH', path.join(dataDir, 'catalog.db'));
  const tmpDir = pathOpt('tmpDir', 'MFB_TMP_DIR', path.join(dataDir, 'tmp'));
  const catalogUrl = envStr(env, 'MFB_CATALOG_URL') !== undefined ? fromEnv<string>('MFB_CATALOG_URL', PathsSchema.catalogUrl) : top.catalogUrl;
  let storageUrl = pathToFileURL(path.join(dataDir, 'backups')).href;
  if (envStr(env, 'MFB_STORAGE_URL') !== undefined) {
    const u = fromEnv<string>('MFB_STORAGE_URL', PathsSchema.storageUrl);
    if (u !== undefined) storageUrl = absolutizeStorageUrl(u, cwd);
  } else if (top.storageUrl !== undefined) {
    storageUrl = absolutizeStorageUrl(top.storageUrl, fileBase);
  }
  const localRetention: RetentionConfig = top.localRetention ?? Object.freeze({ keepLast: DEFAULTS.keepLast });

  // ---- keys (file, then MFB_KEY_<ID> from the environment)
  const keys = new Map<string, Buffer>();
  (top.keys ?? []).forEach((k, i) => {
    if (k === undefined) return;
    const kp = join('keys', i);
    let key: Buffer | undefined;
    if (k.base64 !== undefined) {
      const d = decodeKey(k.base64);
      if (typeof d === 'string') p.add(join(kp, 'base64'), d);
      else key = d;
    } else if (k.file !== undefined) {
      const r = readKeyFile(path.resolve(fileBase, k.file));
      if (r.ok) key = r.key;
      else p.add(join(kp, 'file'), r.problem);
    }
    if (k.id === undefined) return;
    if (keys.has(k.id)) p.add(join(kp, 'id'), `duplicate key id ${show(k.id)}`);
    keys.set(k.id, key ?? Buffer.alloc(0)); // a placeholder keeps references valid; the problem is recorded
  });
  for (const name of Object.keys(env).sort()) {
    const m = /^MFB_KEY_(.+)$/.exec(name);
    if (!m) continue;
    const value = envStr(env, name);
    if (value === undefined) continue;
    const suffix = m[1]!;
    const existing = [...keys.keys()].find((id) => id.toUpperCase().replace(/-/g, '_') === suffix);
    const id = existing ?? suffix.toLowerCase();
    if (!ID_RE.test(id)) {
      p.add(`env ${name}`, `key id ${show(id)} must match ${ID_RULE}`);
      continue;
    }
    const k = decodeKey(value);
    if (typeof k === 'string') p.add(`env ${name}`, k);
    else keys.set(id, k);
  }

  // ---- targets
  const targets: TargetConfig[] = [];
  for (const t of top.targets ?? []) {
    if (t?.name === undefined || t.url === undefined) continue;
    targets.push({
      name: t.name,
      url: absolutizeStorageUrl(t.url, fileBase),
      ...(t.options ? { options: t.options } : {}),
      retention: t.retention ?? localRetention,
    });
  }
  const targetNames = new Set((top.targets ?? []).map((t) => t?.name).filter((n): n is string => n !== undefined && n !== 'local'));

  // ---- databases
  const databases: DatabaseConfig[] = [];
  const files: Array<{ index: number; id: string; path: string }> = [];
  const seenIds = new Set<string>();
  (top.databases ?? []).forEach((d, i) => {
    if (d === undefined) return;
    const dp = join('databases', i);
    if (d.id !== undefined) {
      if (seenIds.has(d.id)) p.add(join(dp, 'id'), `duplicate database id ${show(d.id)}`);
      seenIds.add(d.id);
    }
    if (d.encryptionKeyId !== undefined && !keys.has(d.encryptionKeyId)) {
      const known = [...keys.keys()];
      p.add(join(dp, 'encryptionKeyId'), `no key with id ${show(d.encryptionKeyId)} in keys (${known.length ? 'known: ' + known.join(', ') : 'no keys configured'})`);
    }
    const tnames: string[] = [];
    (d.targets ?? []).forEach((t, j) => {
      const fp = join(join(dp, 'targets'), j);
      if (t === undefined) return;
      if (t === 'local') return p.add(fp, '"local" is the primary storage, every backup goes there; list only extra targets');
      if (!targetNames.has(t)) {
        return p.add(fp, `no target named ${show(t)} in targets (${targetNames.size ? 'known: ' + [...targetNames].join(', ') : 'no targets configured'})`);
      }
      if (tnames.includes(t)) return p.add(fp, `target ${show(t)} listed twice`);
      tnames.push(t);
    });
    if (d.id === undefined || d.path === undefined) return;
    const dbPath = path.resolve(fileBase, d.path);
    files.push({ index: i, id: d.id, path: dbPath });
    databases.push({
      id: d.id,
      path: dbPath,
      ...(d.host !== undefined ? { host: d.host } : {}),
      compression: d.compression ?? { algorithm: 'gzip', level: DEFAULTS.compression.gzip },
      ...(d.encryptionKeyId !== undefined ? { encryptionKeyId: d.encryptionKeyId } : {}),
      targets: tnames,
      retention: d.retention ?? localRetention,
      schedules: (d.schedules ?? []).filter((s): s is ScheduleConfig => s !== undefined),
      restoreDrill: d.restoreDrill ?? { ...DEFAULTS.restoreDrill },
      ...(d.health ? { health: d.health } : {}),
      ...(d.notifications
        ? { notifications: { webhooks: webhooksOf(d.notifications.webhooks), ...(d.notifications.heartbeatUrl !== undefined ? { heartbeatUrl: d.notifications.heartbeatUrl } : {}) } }
        : {}),
      ...(d.incremental !== undefined ? { incremental: d.incremental } : {}),
      ...(d.snapshot !== undefined ? { snapshot: d.snapshot } : {}),
    });
  });
  checkDistinctFiles(p, files);
  if (!isNonEmptyList(raw, 'databases')) {
    databases.push({
      id: DEFAULTS.demoDatabaseId,
      path: path.join(dataDir, 'demo', 'finance.db'),
      compression: { algorithm: 'gzip', level: DEFAULTS.compression.gzip },
      targets: [],
      retention: localRetention,
      schedules: [],
      restoreDrill: { ...DEFAULTS.restoreDrill },
      demo: true,
    });
  }

  // ---- redis
  const ro = top.redis ?? {};
  const redisUrl = (envStr(env, 'REDIS_URL') !== undefined ? fromEnv<string>('REDIS_URL', field(RedisSchema, 'url')) : ro.url) ?? DEFAULTS.redisUrl;
  const redisPrefix = fromEnv<string>('MFB_REDIS_PREFIX', field(RedisSchema, 'prefix')) ?? ro.prefix ?? DEFAULTS.redisPrefix;
  const redisTls = ro.tls ?? redisUrl.startsWith('rediss');

  // ---- worker
  const wo = top.worker ?? {};
  const wInt = (name: string, key: 'concurrency' | 'lockTtlMs' | 'shutdownGraceMs' | 'metricsPort', dflt: number): number =>
    fromEnv<number>(name, field(WorkerSchema, key), int) ?? wo[key] ?? dflt;
  const worker: Config['worker'] = {
    host: fromEnv<string>('MFB_HOST', field(WorkerSchema, 'host')) ?? wo.host ?? machineHost(),
    concurrency: wInt('MFB_WORKER_CONCURRENCY', 'concurrency', DEFAULTS.concurrency),
    lockTtlMs: wInt('MFB_LOCK_TTL_MS', 'lockTtlMs', DEFAULTS.lockTtlMs),
    lockReplicaTimeoutMs: wo.lockReplicaTimeoutMs ?? DEFAULTS.lockReplicaTimeoutMs,
    lockReplicaRequired: wo.lockReplicaRequired ?? false,
    orphanArtifactAgeMs: wo.orphanArtifactAgeMs ?? DEFAULTS.orphanArtifactAgeMs,
    shutdownGraceMs: wInt('MFB_SHUTDOWN_GRACE_MS', 'shutdownGraceMs', DEFAULTS.shutdownGraceMs),
    metricsPort: wInt('MFB_METRICS_PORT', 'metricsPort', DEFAULTS.metricsPort),
    metricsHost: envStr(env, 'MFB_METRICS_HOST') ?? wo.metricsHost ?? DEFAULTS.metricsHost,
    attempts: { ...DEFAULTS.attempts, ...wo.attempts },
    backoffMs: wo.backoffMs ?? DEFAULTS.backoffMs,
  };

  // ---- api
  const apo = top.api ?? {};
  const apiKeys: ApiKeyConfig[] = [];
  const envKeys = envStr(env, 'MFB_API_KEYS');
  if (envKeys !== undefined) {
    envKeys.split(',').forEach((entry, i) => {
      const fp = `env MFB_API_KEYS[${i}]`;
      const parts = entry.trim().split(':');
      if (parts.length < 3) return p.add(fp, 'must be id:secret:scopes (scopes joined with +, e.g. read+write)');
      pushApiKey(p, apiKeys, fp, parts[0]!, parts.slice(1, -1).join(':'), parts[parts.length - 1]!.split('+'));
    });
  } else {
    (apo.keys ?? []).forEach((k, i) => {
      if (k?.id === undefined || k.key === undefined) return;
      pushApiKey(p, apiKeys, join('api.keys', i), k.id, k.key, k.scopes ?? []);
    });
  }
  const adminUser = envStr(env, 'MFB_ADMIN_USER') ?? apo.adminUser;
  const adminPasswordEnv = envStr(env, 'MFB_ADMIN_PASSWORD');
  const adminPassword = adminPasswordEnv ?? apo.adminPassword;
  const pwPath = adminPasswordEnv !== undefined ? 'env MFB_ADMIN_PASSWORD' : 'api.adminPassword';
  if (adminPassword !== undefined && adminPassword.length < 12) p.add(pwPath, 'must be at least 12 characters long');
  if ((adminUser === undefined) !== (adminPassword === undefined)) {
    p.add(adminUser === undefined ? 'api.adminUser' : pwPath, 'adminUser and adminPassword must be set together (or neither)');
  }
  const envCors = envStr(env, 'MFB_API_CORS_ORIGINS');
  const corsOrigins =
    envCors !== undefined
      ? envCors.split(',').map((o, i) => check(CorsOriginSchema, o.trim(), `env MFB_API_CORS_ORIGINS[${i}]`, p) as string | undefined)
      : (apo.corsOrigins ?? []);
  const requestTimeoutMs = apo.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
  const headersTimeoutMs = apo.headersTimeoutMs ?? Math.min(DEFAULTS.headersTimeoutMs, requestTimeoutMs);
  if (headersTimeoutMs > requestTimeoutMs) p.add('api.headersTimeoutMs', `must not exceed api.requestTimeoutMs (${requestTimeoutMs}), got ${headersTimeoutMs}`);
  const api: Config['api'] = {
    host: envStr(env, 'MFB_API_HOST') ?? apo.host ?? DEFAULTS.apiHost,
    port: fromEnv<number>('MFB_API_PORT', field(ApiSchema, 'port'), int) ?? apo.port ?? DEFAULTS.apiPort,
    keys: apiKeys,
    metricsPublic: apo.metricsPublic ?? false,
    ...(adminUser !== undefined && adminPassword !== undefined ? { adminUser, adminPassword } : {}),
    rateLimitPerMinute: apo.rateLimitPerMinute ?? DEFAULTS.rateLimitPerMinute,
    bodyLimitBytes: apo.bodyLimitBytes ?? DEFAULTS.bodyLimitBytes,
    corsOrigins: [...new Set(corsOrigins.filter((o): o is string => o !== undefined))],
    requestTimeoutMs,
    headersTimeoutMs,
    idleTimeoutMs: apo.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
  };

  // ---- health, notifications
  const health: Config['health'] = {
    maxAgeIntervals: top.health?.maxAgeIntervals ?? HEALTH_DEFAULTS.maxAgeIntervals,
    ...(top.health?.maxAgeSeconds !== undefined ? { maxAgeSeconds: top.health.maxAgeSeconds } : {}),
    failedBackups: top.health?.failedBackups ?? HEALTH_DEFAULTS.failedBackups,
    verifyMaxAgeDays: top.health?.verifyMaxAgeDays ?? HEALTH_DEFAULTS.verifyMaxAgeDays,
    diskFreePercent: top.health?.diskFreePercent ?? HEALTH_DEFAULTS.diskFreePercent,
    targetProbe: top.health?.targetProbe ?? HEALTH_DEFAULTS.targetProbe,
    targetProbeTimeoutMs: top.health?.targetProbeTimeoutMs ?? HEALTH_DEFAULTS.targetProbeTimeoutMs,
    targetProbeCacheSeconds: top.health?.targetProbeCacheSeconds ?? HEALTH_DEFAULTS.targetProbeCacheSeconds,
    cacheSeconds: top.health?.cacheSeconds ?? HEALTH_DEFAULTS.cacheSeconds,
  };
  const no = top.notifications ?? {};
  const notifications: Config['notifications'] = {
    webhooks: webhooksOf(no.webhooks),
    ...(no.heartbeatUrl !== undefined ? { heartbeatUrl: no.heartbeatUrl } : {}),
    timeoutMs: no.timeoutMs ?? NOTIFY_DEFAULTS.timeoutMs,
    attempts: no.attempts ?? NOTIFY_DEFAULTS.attempts,
    backoffMs: no.backoffMs ?? NOTIFY_DEFAULTS.backoffMs,
    queueSize: no.queueSize ?? NOTIFY_DEFAULTS.queueSize,
  };

  // ---- log
  const level = fromEnv<Config['log']['level']>('MFB_LOG_LEVEL', field(LogSchema, 'level')) ?? top.log?.level ?? (DEFAULTS.logLevel as Config['log']['level']);

  // ---- housekeeping (catalog trimming by the worker)
  const housekeeping: Config['housekeeping'] = { ...DEFAULTS.housekeeping, ...top.housekeeping };

  if (p.list.length > 0) {
    const where = file !== undefined ? ` in ${file}` : '';
    throw new ConfigError('CONFIG_INVALID', `invalid configuration${where}: ${p.list.join('; ')}`, p.list);
  }

  const config: Config = {
    source: file ?? 'defaults',
    dataDir,
    catalogPath,
    ...(catalogUrl !== undefined ? { catalogUrl } : {}),
    tmpDir,
    storageUrl,
    localRetention,
    databases,
    targets,
    keys: new FrozenMap(keys),
    redis: { url: redisUrl, prefix: redisPrefix, tls: redisTls },
    worker,
    api,
    health,
    notifications,
    log: { level },
    housekeeping,
  };
  return deepFreeze(config);
}

/** True when the raw file has a non-empty `key` list (then no demo database is added). */
function isNonEmptyList(raw: unknown, key: string): boolean {
  const v = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[key] : undefined;
  return Array.isArray(v) && v.length > 0;
}

function pushApiKey(p: Problems, out: ApiKeyConfig[], fp: string, id: string, key: string, scopes: unknown[]): void {
  let ok = true;
  if (!ID_RE.test(id)) {
    p.add(fp, `id must match ${ID_RULE}, got ${show(id)}`);
    ok = false;
  } else if (out.some((k) => k.id === id)) {
    p.add(fp, `duplicate API key id ${show(id)}`);
    ok = false;
  }
  if (key.length < 16) {
    p.add(fp, 'key must be at least 16 characters long (generate one with: openssl rand -base64 32)');
    ok = false;
  } else if (out.some((k) => k.key === key)) {
    p.add(fp, 'key is the same as another API key');
    ok = false;
  }
  if (scopes.length === 0) {
    p.add(fp, `scopes must not be empty (any of ${SCOPES.join(', ')})`);
    ok = false;
  }
  for (const s of scopes) {
    if (typeof s !== 'string' || !(SCOPES as readonly string[]).includes(s)) {
      p.add(fp, `unknown scope ${show(s)} (allowed: ${SCOPES.join(', ')})`);
      ok = false;
    }
  }
  if (ok) out.push({ id, key, scopes: [...new Set(scopes as ApiKeyConfig['scopes'])] });
}

/**
 * A copy of the config that is safe to print or log: API keys, the admin password, Redis
 * and storage URL credentials replaced, and key material reduced to key ids.
 */
export function redactConfig(c: Config): Record<string, unknown> {
  return {
    ...c,
    storageUrl: redactUrl(c.storageUrl),
    ...(c.catalogUrl !== undefined ? { catalogUrl: redactUrl(c.catalogUrl) } : {}),
    targets: c.targets.map((t) => ({
      ...t,
      url: redactUrl(t.url),
      ...(t.options ? { options: Object.fromEntries(Object.entries(t.options).map(([k, v]) => [k, isSecretName(k) ? 'REDACTED' : v])) } : {}),
    })),
    databases: c.databases.map((d) => (d.notifications ? { ...d, notifications: redactHookUrls(d.notifications) } : d)),
    notifications: redactHookUrls(c.notifications),
    keys: [...c.keys.keys()],
    redis: { ...c.redis, url: redactUrl(c.redis.url) },
    api: {
      ...c.api,
      keys: c.api.keys.map((k) => ({ id: k.id, key: 'REDACTED', scopes: k.scopes })),
      ...(c.api.adminPassword !== undefined ? { adminPassword: 'REDACTED' } : {}),
    },
  };
}
