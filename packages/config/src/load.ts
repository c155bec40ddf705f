import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
import { isSecretName, redactUrl } from '@mfb/errors';
import { RETENTION_POLICY_FIELDS, RetentionPolicyError, validateRetentionPolicy } from '@mfb/retention';
import { ConfigError } from './errors.js';
import type {
  ApiKeyConfig,
  CompressionAlgorithm,
  CompressionConfig,
  Config,
  DatabaseConfig,
  RetentionConfig,
  ScheduleConfig,
  TargetConfig,
} from './types.js';
import { ID_RE, ID_RULE, SCOPES } from '@mfb/client';
import {
  Problems,
  checkInt,
  cronProblem,
  isValidTimeZone,
  join,
  list,
  mapping,
  optBool,
  optInt,
  optStr,
  reqStr,
  show,
} from './validate.js';

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

/** Documented defaults (paths are relative to the data directory unless absolute). */
export const DEFAULTS = Object.freeze({
  dataDir: './data',
  keepLast: 7,
  compression: { gzip: 6, zstd: 3 },
  redisUrl: 'redis://127.0.0.1:6379',
  redisPrefix: 'mfb',
  concurrency: 1,
  lockTtlMs: 30_000,
  shutdownGraceMs: 30_000,
  metricsPort: 9464,
  metricsHost: '127.0.0.1',
  attempts: Object.freeze({ backup: 5, upload: 8, prune: 3, restore: 1, verify: 3 }),
  backoffMs: 2000,
  apiHost: '127.0.0.1',
  apiPort: 8080,
  rateLimitPerMinute: 600,
  bodyLimitBytes: 1024 * 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  logLevel: 'info',
  demoDatabaseId: 'demo',
  housekeeping: Object.freeze({ jobHistoryDays: 90, jobHistoryMax: 100_000, deletedBackupDays: 90 }),
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const JOBS = ['backup', 'verify', 'prune'] as const;
const ATTEMPT_JOBS = Object.keys(DEFAULTS.attempts) as Array<keyof typeof DEFAULTS.attempts>;

const TOP_KEYS = [
  'dataDir',
  'catalogPath',
  'tmpDir',
  'storageUrl',
  'localRetention',
  'keys',
  'databases',
  'targets',
  'redis',
  'worker',
  'api',
  'log',
  'housekeeping',
] as const;

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

function deepFreeze<T>(o: T): T {
  if (o === null || typeof o !== 'object' || Buffer.isBuffer(o) || o instanceof Map) return o;
  for (const v of Object.values(o as object)) deepFreeze(v);
  return Object.freeze(o);
}

/**
 * A CORS origin exactly as browsers send it (`https://dash.example.org`, `http://127.0.0.1:3000`):
 * scheme, host and optional port, nothing else. `*` is refused: the allow-list is explicit.
 */
function corsOrigin(p: Problems, fp: string, v: unknown): string | undefined {
  if (typeof v !== 'string') {
    p.add(fp, `must be an origin string, got ${show(v)}`);
    return undefined;
  }
  if (v === '*' || v.includes('*')) {
    p.add(fp, 'wildcards are not allowed; list each origin (e.g. https://dashboard.example.org)');
    return undefined;
  }
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== v) {
    p.add(fp, `must be an origin: http(s)://host[:port] without path or trailing slash, got ${show(v)}`);
    return undefined;
  }
  return v;
}

function envStr(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/**
 * Resolve a storage URL's relative local path (`file://./x`, `./x`) against `base` and turn
 * bare paths into `file://` URLs (percent-encoded where needed, e.g. spaces).
 */
function absolutizeStorageUrl(url: string, base: string): string {
  const rel = /^file:\/\/(\.\.?(?:\/.*)?)$/i.exec(url);
  if (rel) return pathToFileURL(path.resolve(base, decodeURIComponent(rel[1]!))).href;
  if (url.startsWith('./') || url.startsWith('../') || url === '.' || url === '..' || url.startsWith('/')) {
    return pathToFileURL(path.resolve(base, url)).href;
  }
  return url;
}

function checkStorageUrl(p: Problems, url: string, fp: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || url.startsWith('/') || url.startsWith('./') || url.startsWith('../')) return true;
  p.add(fp, `must be a storage URL (file:///abs/path, file://./relative/path; s3://, gs://, azblob:// with their drivers), got ${show(redactUrl(url))}`);
  return false;
}

/** Decode a base64 key; problem message (no key material) or the 32-byte buffer. */
function decodeKey(text: string): Buffer | string {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return 'is not valid base64';
  const buf = Buffer.from(t, 'base64');
  if (buf.length !== 32) return `must decode to 32 bytes (AES-256), got ${buf.length}`;
  return buf;
}

/**
 * The one rule for key files, for the config's `keys[].file` and the CLI's `--key-file`: a key
 * that group or others can read is refused (it may already have leaked). Returns the problem
 * (no key material), or null when `mode` is private.
 */
export function keyFileModeProblem(file: string, mode: number): string | null {
  if ((mode & 0o077) === 0) return null;
  return `key file ${file} is accessible by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); refusing to use it: run chmod 600 ${file}`;
}

function readKeyFile(p: Problems, file: string, fp: string): Buffer | undefined {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    p.add(fp, `key file ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`);
    return undefined;
  }
  if (!st.isFile()) {
    p.add(fp, `key file ${file} is not a regular file`);
    return undefined;
  }
  const modeProblem = keyFileModeProblem(file, st.mode);
  if (modeProblem) {
    p.add(fp, modeProblem);
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    p.add(fp, `key file ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`);
    return undefined;
  }
  const key = decodeKey(text);
  if (typeof key === 'string') {
    p.add(fp, `key file ${file} ${key}`);
    return undefined;
  }
  return key;
}

/**
 * `targets[].options`: a mapping of option names to scalars. Which names and values are valid
 * depends on the URL's driver, which checks them when the target is opened (at boot).
 */
function parseTargetOptions(p: Problems, v: unknown, fp: string): Record<string, string | number | boolean> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) {
    p.add(fp, `must be a mapping of option names to values, got ${show(v)}`);
    return undefined;
  }
  const out: Record<string, string | number | boolean> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(k)) p.add(join(fp, k), 'option names are letters, digits and _');
    else if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') out[k] = val;
    else p.add(join(fp, k), `must be a string, number or boolean, got ${show(val)}`);
  }
  return out;
}

/**
 * A retention policy (`localRetention`, `databases[].retention`, `targets[].retention`): checked
 * by `validateRetentionPolicy` of @mfb/retention, its problems reported under `fp`
 * (`databases[0].retention.keepDaily: must be an integer >= 0, got -1`). Absent or empty: `fallback`.
 */
function parseRetention(p: Problems, v: unknown, fp: string, fallback: RetentionConfig): RetentionConfig {
  const before = p.list.length;
  const o = mapping(p, v, fp, RETENTION_POLICY_FIELDS);
  if (!o || p.list.length > before) return fallback;
  if (Object.keys(o).length === 0) return fallback;
  try {
    return validateRetentionPolicy(o);
  } catch (err) {
    if (!(err instanceof RetentionPolicyError)) throw err;
    p.add(err.field ? join(fp, err.field) : fp, err.detail);
    return fallback;
  }
}

function parseCompression(p: Problems, v: unknown, fp: string): CompressionConfig {
  const o = mapping(p, v, fp, ['algorithm', 'level']);
  const algorithm = (o ? optStr(p, o, 'algorithm', fp, { oneOf: ['gzip', 'zstd', 'none'] }) : undefined) as CompressionAlgorithm | undefined;
  const alg: CompressionAlgorithm = algorithm ?? 'gzip';
  const lv = o?.['level'];
  const lfp = join(fp, 'level');
  if (alg === 'none') {
    if (lv !== undefined && lv !== null && lv !== 0) p.add(lfp, `must be absent (or 0) when algorithm is none, got ${show(lv)}`);
    return { algorithm: 'none', level: 0 };
  }
  if (lv === undefined || lv === null) return { algorithm: alg, level: DEFAULTS.compression[alg] };
  const level = alg === 'gzip' ? checkInt(p, lv, lfp, 1, 9, 'gzip level') : checkInt(p, lv, lfp, 1, 19, 'zstd level');
  return { algorithm: alg, level: level ?? DEFAULTS.compression[alg] };
}

function parseSchedules(p: Problems, v: unknown, fp: string): ScheduleConfig[] {
  const out: ScheduleConfig[] = [];
  const seen = new Set<string>();
  list(p, v, fp).forEach((item, i) => {
    const sp = join(fp, i);
    const o = mapping(p, item, sp, ['id', 'cron', 'timezone', 'job', 'paused']);
    if (!o) return;
    const id = reqStr(p, o, 'id', sp, { pattern: ID_RE, patternText: ID_RULE });
    if (id !== undefined) {
      if (seen.has(id)) p.add(join(sp, 'id'), `duplicate schedule id ${show(id)} for this database`);
      seen.add(id);
    }
    const cron = reqStr(p, o, 'cron', sp);
    if (cron !== undefined) {
      const prob = cronProblem(cron);
      if (prob) p.add(join(sp, 'cron'), prob);
    }
    const tz = optStr(p, o, 'timezone', sp) ?? 'UTC';
    if (!isValidTimeZone(tz)) p.add(join(sp, 'timezone'), `unknown time zone ${show(tz)} (use an IANA name such as Europe/Berlin or UTC)`);
    const job = (optStr(p, o, 'job', sp, { oneOf: JOBS }) ?? 'backup') as ScheduleConfig['job'];
    const paused = optBool(p, o, 'paused', sp) ?? false;
    if (id !== undefined && cron !== undefined) out.push({ id, cron: cron.trim(), timezone: tz, job, paused });
  });
  return out;
}

/**
 * Load, validate and freeze the configuration.
 *
 * Precedence: embedded defaults < config file < environment. See `docs/configuration.md`
 * for every option and environment variable. Relative paths in the file are resolved
 * against the file's directory; relative paths from the environment and the defaults against
 * `cwd`. Throws {@link ConfigError} (CONFIG_INVALID, CONFIG_FILE_NOT_FOUND) naming every bad
 * field; secret values are never part of the message.
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

  const p = new Problems();
  let raw: unknown = {};
  if (file !== undefined) {
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
    raw = doc.toJS() ?? {};
  }
  const fileBase = file !== undefined ? path.dirname(file) : cwd;
  const top = mapping(p, raw, '', TOP_KEYS) ?? {};

  // ---- paths
  const envDataDir = envStr(env, 'MFB_DATA_DIR');
  const fileDataDir = optStr(p, top, 'dataDir', '');
  const dataDir = envDataDir !== undefined ? path.resolve(cwd, envDataDir) : path.resolve(fileBase, fileDataDir ?? DEFAULTS.dataDir);
  const pathOpt = (key: 'catalogPath' | 'tmpDir', envName: string, dflt: string): string => {
    const e = envStr(env, envName);
    if (e !== undefined) return path.resolve(cwd, e);
    const f = optStr(p, top, key, '');
    return f !== undefined ? path.resolve(fileBase, f) : dflt;
  };
  const catalogPath = pathOpt('catalogPath', 'MFB_CATALOG_PATH', path.join(dataDir, 'catalog.db'));
  const tmpDir = pathOpt('tmpDir', 'MFB_TMP_DIR', path.join(dataDir, 'tmp'));
  let storageUrl = pathToFileURL(path.join(dataDir, 'backups')).href;
  const envStorage = envStr(env, 'MFB_STORAGE_URL');
  const fileStorage = optStr(p, top, 'storageUrl', '');
  if (envStorage !== undefined) {
    if (checkStorageUrl(p, envStorage, 'env MFB_STORAGE_URL')) storageUrl = absolutizeStorageUrl(envStorage, cwd);
  } else if (fileStorage !== undefined) {
    if (checkStorageUrl(p, fileStorage, 'storageUrl')) storageUrl = absolutizeStorageUrl(fileStorage, fileBase);
  }
  const localRetention = parseRetention(p, top['localRetention'], 'localRetention', Object.freeze({ keepLast: DEFAULTS.keepLast }));

  // ---- keys (file, then MFB_KEY_<ID> from the environment)
  const keys = new Map<string, Buffer>();
  list(p, top['keys'], 'keys').forEach((item, i) => {
    const kp = join('keys', i);
    const o = mapping(p, item, kp, ['id', 'base64', 'file']);
    if (!o) return;
    const id = reqStr(p, o, 'id', kp, { pattern: ID_RE, patternText: ID_RULE });
    const b64 = optStr(p, o, 'base64', kp, { secret: true });
    const kf = optStr(p, o, 'file', kp);
    let key: Buffer | undefined;
    if ((b64 === undefined) === (kf === undefined)) {
      if (o['base64'] === undefined && o['file'] === undefined) p.add(kp, 'needs exactly one of base64 or file');
      else if (b64 !== undefined && kf !== undefined) p.add(kp, 'needs exactly one of base64 or file, not both');
    } else if (b64 !== undefined) {
      const k = decodeKey(b64);
      if (typeof k === 'string') p.add(join(kp, 'base64'), k);
      else key = k;
    } else if (kf !== undefined) {
      key = readKeyFile(p, path.resolve(fileBase, kf), join(kp, 'file'));
    }
    if (id === undefined) return;
    if (keys.has(id)) p.add(join(kp, 'id'), `duplicate key id ${show(id)}`);
    if (key) keys.set(id, key);
    else keys.set(id, Buffer.alloc(0)); // placeholder so references validate; the problem is already recorded
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
  list(p, top['targets'], 'targets').forEach((item, i) => {
    const tp = join('targets', i);
    const o = mapping(p, item, tp, ['name', 'url', 'options', 'retention']);
    if (!o) return;
    const name = reqStr(p, o, 'name', tp, { pattern: ID_RE, patternText: ID_RULE });
    if (name === 'local') p.add(join(tp, 'name'), '"local" is reserved for the primary storage (storageUrl)');
    else if (name !== undefined && targets.some((t) => t.name === name)) p.add(join(tp, 'name'), `duplicate target name ${show(name)}`);
    const url = reqStr(p, o, 'url', tp, { secret: true });
    const okUrl = url !== undefined && checkStorageUrl(p, url, join(tp, 'url'));
    const retention = parseRetention(p, o['retention'], join(tp, 'retention'), localRetention);
    const options = parseTargetOptions(p, o['options'], join(tp, 'options'));
    if (name !== undefined && name !== 'local' && okUrl) {
      targets.push({ name, url: absolutizeStorageUrl(url, fileBase), ...(options ? { options } : {}), retention });
    }
  });

  // ---- databases
  const databases: DatabaseConfig[] = [];
  const rawDbs = list(p, top['databases'], 'databases');
  rawDbs.forEach((item, i) => {
    const dp = join('databases', i);
    const o = mapping(p, item, dp, ['id', 'path', 'compression', 'encryptionKeyId', 'targets', 'retention', 'schedules']);
    if (!o) return;
    const id = reqStr(p, o, 'id', dp, { pattern: ID_RE, patternText: ID_RULE });
    if (id !== undefined && databases.some((d) => d.id === id)) p.add(join(dp, 'id'), `duplicate database id ${show(id)}`);
    const dbPath = reqStr(p, o, 'path', dp, { minLength: 1 });
    const compression = parseCompression(p, o['compression'], join(dp, 'compression'));
    const encryptionKeyId = optStr(p, o, 'encryptionKeyId', dp);
    if (encryptionKeyId !== undefined && !keys.has(encryptionKeyId)) {
      const known = [...keys.keys()];
      p.add(join(dp, 'encryptionKeyId'), `no key with id ${show(encryptionKeyId)} in keys (${known.length ? 'known: ' + known.join(', ') : 'no keys configured'})`);
    }
    const tnames: string[] = [];
    list(p, o['targets'], join(dp, 'targets')).forEach((t, j) => {
      const fp = join(join(dp, 'targets'), j);
      if (typeof t !== 'string') return p.add(fp, `must be a target name, got ${show(t)}`);
      if (t === 'local') return p.add(fp, '"local" is the primary storage, every backup goes there; list only extra targets');
      if (!targets.some((x) => x.name === t)) {
        return p.add(fp, `no target named ${show(t)} in targets (${targets.length ? 'known: ' + targets.map((x) => x.name).join(', ') : 'no targets configured'})`);
      }
      if (tnames.includes(t)) return p.add(fp, `target ${show(t)} listed twice`);
      tnames.push(t);
    });
    const retention = parseRetention(p, o['retention'], join(dp, 'retention'), localRetention);
    const schedules = parseSchedules(p, o['schedules'], join(dp, 'schedules'));
    if (id === undefined || dbPath === undefined) return;
    databases.push({
      id,
      path: path.resolve(fileBase, dbPath),
      compression,
      ...(encryptionKeyId !== undefined ? { encryptionKeyId } : {}),
      targets: tnames,
      retention,
      schedules,
    });
  });
  if (rawDbs.length === 0) {
    databases.push({
      id: DEFAULTS.demoDatabaseId,
      path: path.join(dataDir, 'demo', 'finance.db'),
      compression: { algorithm: 'gzip', level: DEFAULTS.compression.gzip },
      targets: [],
      retention: localRetention,
      schedules: [],
      demo: true,
    });
  }

  // ---- redis
  const ro = mapping(p, top['redis'], 'redis', ['url', 'prefix', 'tls']) ?? {};
  const envRedis = envStr(env, 'REDIS_URL');
  let redisUrl: string = DEFAULTS.redisUrl;
  const checkRedisUrl = (u: string, fp: string): boolean => {
    if (/^rediss?:\/\/[^\s]+$/.test(u)) return true;
    p.add(fp, `must be a redis:// or rediss:// URL, got ${show(redactUrl(u))}`);
    return false;
  };
  if (envRedis !== undefined) {
    if (checkRedisUrl(envRedis, 'env REDIS_URL')) redisUrl = envRedis;
  } else {
    const u = optStr(p, ro, 'url', 'redis', { secret: true });
    if (u !== undefined && checkRedisUrl(u, 'redis.url')) redisUrl = u;
  }
  const prefixPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
  const envPrefix = envStr(env, 'MFB_REDIS_PREFIX');
  let redisPrefix = optStr(p, ro, 'prefix', 'redis', { pattern: prefixPattern, patternText: 'letters, digits, _ . : - (at most 64)' }) ?? DEFAULTS.redisPrefix;
  if (envPrefix !== undefined) {
    if (prefixPattern.test(envPrefix)) redisPrefix = envPrefix;
    else p.add('env MFB_REDIS_PREFIX', `must be letters, digits, _ . : - (at most 64), got ${show(envPrefix)}`);
  }
  const redisTls = optBool(p, ro, 'tls', 'redis') ?? redisUrl.startsWith('rediss://');

  // ---- numbers that the environment may override
  const envInt = (name: string, fileVal: number | undefined, dflt: number, min: number, max: number): number => {
    const e = envStr(env, name);
    if (e !== undefined) {
      const n = /^-?\d+$/.test(e) ? Number(e) : NaN;
      return checkInt(p, Number.isNaN(n) ? e : n, `env ${name}`, min, max) ?? dflt;
    }
    return fileVal ?? dflt;
  };

  // ---- worker
  const wo = mapping(p, top['worker'], 'worker', ['concurrency', 'lockTtlMs', 'shutdownGraceMs', 'metricsPort', 'metricsHost', 'attempts', 'backoffMs']) ?? {};
  const ao = mapping(p, wo['attempts'], 'worker.attempts', ATTEMPT_JOBS) ?? {};
  const attempts: Config['worker']['attempts'] = { ...DEFAULTS.attempts };
  for (const j of ATTEMPT_JOBS) attempts[j] = optInt(p, ao, j, 'worker.attempts', 1, 100) ?? DEFAULTS.attempts[j];
  const worker: Config['worker'] = {
    concurrency: envInt('MFB_WORKER_CONCURRENCY', optInt(p, wo, 'concurrency', 'worker', 1, 256), DEFAULTS.concurrency, 1, 256),
    lockTtlMs: envInt('MFB_LOCK_TTL_MS', optInt(p, wo, 'lockTtlMs', 'worker', 1000, 86_400_000), DEFAULTS.lockTtlMs, 1000, 86_400_000),
    shutdownGraceMs: envInt('MFB_SHUTDOWN_GRACE_MS', optInt(p, wo, 'shutdownGraceMs', 'worker', 0, 86_400_000),
      DEFAULTS.shutdownGraceMs,
      0,
      86_400_000,
    ),
    metricsPort: envInt('MFB_METRICS_PORT', optInt(p, wo, 'metricsPort', 'worker', 0, 65535), DEFAULTS.metricsPort, 0, 65535),
    metricsHost: envStr(env, 'MFB_METRICS_HOST') ?? optStr(p, wo, 'metricsHost', 'worker', { minLength: 1 }) ?? DEFAULTS.metricsHost,
    attempts,
    backoffMs: optInt(p, wo, 'backoffMs', 'worker', 0, 3_600_000) ?? DEFAULTS.backoffMs,
  };

  // ---- api
  const apo = mapping(p, top['api'], 'api', ['host', 'port', 'keys', 'metricsPublic', 'adminUser', 'adminPassword', 'rateLimitPerMinute', 'bodyLimitBytes', 'corsOrigins', 'requestTimeoutMs', 'headersTimeoutMs', 'idleTimeoutMs']) ?? {};
  let apiKeys: ApiKeyConfig[] = [];
  const envKeys = envStr(env, 'MFB_API_KEYS');
  if (envKeys !== undefined) {
    envKeys.split(',').forEach((entry, i) => {
      const fp = `env MFB_API_KEYS[${i}]`;
      const parts = entry.trim().split(':');
      if (parts.length < 3) return p.add(fp, 'must be id:secret:scopes (scopes joined with +, e.g. read+write)');
      const id = parts[0]!;
      const scopes = parts[parts.length - 1]!.split('+');
      const key = parts.slice(1, -1).join(':');
      pushApiKey(p, apiKeys, fp, id, key, scopes);
    });
  } else {
    list(p, apo['keys'], 'api.keys').forEach((item, i) => {
      const kp = join('api.keys', i);
      const o = mapping(p, item, kp, ['id', 'key', 'scopes']);
      if (!o) return;
      const id = reqStr(p, o, 'id', kp);
      const key = reqStr(p, o, 'key', kp, { secret: true });
      const scopes = list(p, o['scopes'], join(kp, 'scopes'));
      if (id === undefined || key === undefined) return;
      pushApiKey(p, apiKeys, kp, id, key, scopes);
    });
  }
  apiKeys = apiKeys.map((k) => ({ ...k }));
  const adminUser = envStr(env, 'MFB_ADMIN_USER') ?? optStr(p, apo, 'adminUser', 'api', { minLength: 1 });
  const adminPasswordEnv = envStr(env, 'MFB_ADMIN_PASSWORD');
  const adminPassword = adminPasswordEnv ?? optStr(p, apo, 'adminPassword', 'api', { secret: true });
  const pwPath = adminPasswordEnv !== undefined ? 'env MFB_ADMIN_PASSWORD' : 'api.adminPassword';
  if (adminPassword !== undefined && adminPassword.length < 12) p.add(pwPath, 'must be at least 12 characters long');
  if ((adminUser === undefined) !== (adminPassword === undefined)) {
    p.add(adminUser === undefined ? 'api.adminUser' : pwPath, 'adminUser and adminPassword must be set together (or neither)');
  }
  const envCors = envStr(env, 'MFB_API_CORS_ORIGINS');
  const corsOrigins = (envCors !== undefined ? envCors.split(',').map((o) => o.trim()) : list(p, apo['corsOrigins'], 'api.corsOrigins'))
    .map((o, i) => corsOrigin(p, envCors !== undefined ? `env MFB_API_CORS_ORIGINS[${i}]` : join('api.corsOrigins', i), o))
    .filter((o): o is string => o !== undefined);
  const requestTimeoutMs = optInt(p, apo, 'requestTimeoutMs', 'api', 1000, 3_600_000) ?? DEFAULTS.requestTimeoutMs;
  const headersTimeoutMs = optInt(p, apo, 'headersTimeoutMs', 'api', 1000, 3_600_000) ?? Math.min(DEFAULTS.headersTimeoutMs, requestTimeoutMs);
  if (headersTimeoutMs > requestTimeoutMs) p.add('api.headersTimeoutMs', `must not exceed api.requestTimeoutMs (${requestTimeoutMs}), got ${headersTimeoutMs}`);
  const api: Config['api'] = {
    host: envStr(env, 'MFB_API_HOST') ?? optStr(p, apo, 'host', 'api', { minLength: 1 }) ?? DEFAULTS.apiHost,
    port: envInt('MFB_API_PORT', optInt(p, apo, 'port', 'api', 0, 65535), DEFAULTS.apiPort, 0, 65535),
    keys: apiKeys,
    metricsPublic: optBool(p, apo, 'metricsPublic', 'api') ?? false,
    ...(adminUser !== undefined && adminPassword !== undefined ? { adminUser, adminPassword } : {}),
    rateLimitPerMinute: optInt(p, apo, 'rateLimitPerMinute', 'api', 1, 1_000_000) ?? DEFAULTS.rateLimitPerMinute,
    bodyLimitBytes: optInt(p, apo, 'bodyLimitBytes', 'api', 1024, 1024 * 1024 * 1024) ?? DEFAULTS.bodyLimitBytes,
    corsOrigins: [...new Set(corsOrigins)],
    requestTimeoutMs,
    headersTimeoutMs,
    idleTimeoutMs: optInt(p, apo, 'idleTimeoutMs', 'api', 1000, 86_400_000) ?? DEFAULTS.idleTimeoutMs,
  };

  // ---- log
  const lo = mapping(p, top['log'], 'log', ['level']) ?? {};
  let level = (optStr(p, lo, 'level', 'log', { oneOf: LOG_LEVELS }) ?? DEFAULTS.logLevel) as Config['log']['level'];
  const envLevel = envStr(env, 'MFB_LOG_LEVEL');
  if (envLevel !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(envLevel)) level = envLevel as Config['log']['level'];
    else p.add('env MFB_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got ${show(envLevel)}`);
  }

  // ---- housekeeping (catalog trimming; 0 = keep forever)
  const ho = mapping(p, top['housekeeping'], 'housekeeping', ['jobHistoryDays', 'jobHistoryMax', 'deletedBackupDays']) ?? {};
  const housekeeping: Config['housekeeping'] = {
    jobHistoryDays: optInt(p, ho, 'jobHistoryDays', 'housekeeping', 0, 36_500) ?? DEFAULTS.housekeeping.jobHistoryDays,
    jobHistoryMax: optInt(p, ho, 'jobHistoryMax', 'housekeeping', 0, 100_000_000) ?? DEFAULTS.housekeeping.jobHistoryMax,
    deletedBackupDays: optInt(p, ho, 'deletedBackupDays', 'housekeeping', 0, 36_500) ?? DEFAULTS.housekeeping.deletedBackupDays,
  };

  if (p.list.length > 0) {
    const where = file !== undefined ? ` in ${file}` : '';
    throw new ConfigError('CONFIG_INVALID', `invalid configuration${where}: ${p.list.join('; ')}`, p.list);
  }

  const config: Config = {
    source: file ?? 'defaults',
    dataDir,
    catalogPath,
    tmpDir,
    storageUrl,
    localRetention,
    databases,
    targets,
    keys: new FrozenMap(keys),
    redis: { url: redisUrl, prefix: redisPrefix, tls: redisTls },
    worker,
    api,
    log: { level },
    housekeeping,
  };
  return deepFreeze(config);
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
    targets: c.targets.map((t) => ({
      ...t,
      url: redactUrl(t.url),
      ...(t.options ? { options: Object.fromEntries(Object.entries(t.options).map(([k, v]) => [k, isSecretName(k) ? 'REDACTED' : v])) } : {}),
    })),
    keys: [...c.keys.keys()],
    redis: { ...c.redis, url: redactUrl(c.redis.url) },
    api: {
      ...c.api,
      keys: c.api.keys.map((k) => ({ id: k.id, key: 'REDACTED', scopes: k.scopes })),
      ...(c.api.adminPassword !== undefined ? { adminPassword: 'REDACTED' } : {}),
    },
  };
}
