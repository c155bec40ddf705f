import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, generateKeyFile, loadConfig, redactConfig, renderConfigTemplate } from '../src/index.js';
import type { Config } from '../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mfb-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeYaml(text: string, name = 'mfb.config.yaml'): string {
  const f = path.join(dir, name);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}

function load(yamlText?: string, env: Record<string, string> = {}): Config {
  const file = yamlText !== undefined ? writeYaml(yamlText, 'c.yaml') : undefined;
  return loadConfig({ ...(file ? { file } : {}), env, cwd: dir });
}

function problemOf(yamlText: string | undefined, env: Record<string, string> = {}): ConfigError {
  try {
    load(yamlText, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect((err as ConfigError).permanent).toBe(true);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const KEY_B64 = randomBytes(32).toString('base64');

/** What `worker.host` defaults to: the machine's name as a host id. */
function machineName(): string {
  return hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63) || 'localhost';
}

describe('hosts (databases[].host, worker.host)', () => {
  it('a database names its host or none; the worker host comes from MFB_HOST, the file, or the machine name', () => {
    const text = 'databases:\n  - { id: a, path: a.db, host: db-1.example.com }\n  - { id: b, path: b.db }\nworker:\n  host: db-2\n';
    const c = load(text);
    expect(c.databases.map((d) => d.host)).toEqual(['db-1.example.com', undefined]);
    expect('host' in c.databases[1]!).toBe(false);
    expect(c.worker.host).toBe('db-2');
    expect(load(text, { MFB_HOST: 'db-1.example.com' }).worker.host).toBe('db-1.example.com');
    expect(load('databases:\n  - { id: a, path: a.db }\n').worker.host).toBe(machineName());
    expect(machineName()).toMatch(/^[a-z0-9][a-z0-9._-]{0,62}$/);
    expect(problemOf(undefined, { MFB_HOST: 'Db_1!' }).message).toContain('env MFB_HOST: must match');
  });
});

describe('defaults', () => {
  it('runs on embedded defaults with no file and no environment', () => {
    const c = loadConfig({ env: {}, cwd: dir });
    const data = path.join(dir, 'data');
    expect(c.source).toBe('defaults');
    expect(c.dataDir).toBe(data);
    expect(c.catalogPath).toBe(path.join(data, 'catalog.db'));
    expect(c.tmpDir).toBe(path.join(data, 'tmp'));
    expect(c.storageUrl).toBe(`file://${data}/backups`);
    expect(c.localRetention).toEqual({ keepLast: 7 });
    expect(c.databases).toEqual([
      {
        id: 'demo',
        path: path.join(data, 'demo', 'finance.db'),
        compression: { algorithm: 'gzip', level: 6 },
        targets: [],
        retention: { keepLast: 7 },
        schedules: [],
        restoreDrill: { enabled: true, cron: '30 4 * * 0', timezone: 'UTC' },
        demo: true,
      },
    ]);
    expect(c.targets).toEqual([]);
    expect(c.keys.size).toBe(0);
    expect(c.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'mfb', tls: false });
    expect(c.worker).toEqual({
      host: machineName(),
      concurrency: 1,
      lockTtlMs: 30000,
      lockReplicaTimeoutMs: 1000,
      lockReplicaRequired: false,
      orphanArtifactAgeMs: 3600000,
      shutdownGraceMs: 30000,
      metricsPort: 9464,
      metricsHost: '127.0.0.1',
      attempts: { backup: 5, upload: 8, prune: 3, restore: 1, verify: 3 },
      backoffMs: 2000,
    });
    expect(c.api).toMatchObject({ host: '127.0.0.1', port: 8080, keys: [], metricsPublic: false, corsOrigins: [] });
    expect(c.api).toMatchObject({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, idleTimeoutMs: 300_000 });
    expect(c.api.adminUser).toBeUndefined();
    expect(c.log.level).toBe('info');
  });

  it('is deeply frozen, key ring included', () => {
    const c = loadConfig({ env: { MFB_KEY_MAIN: KEY_B64 }, cwd: dir });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.worker.attempts)).toBe(true);
    expect(Object.isFrozen(c.databases[0]!.compression)).toBe(true);
    expect(() => {
      (c as { dataDir: string }).dataDir = '/x';
    }).toThrow(TypeError);
    expect(() => (c.keys as Map<string, Buffer>).set('x', Buffer.alloc(32))).toThrow(TypeError);
    expect(() => (c.keys as Map<string, Buffer>).delete('main')).toThrow(TypeError);
    expect(c.keys.get('main')!.toString('base64')).toBe(KEY_B64);
  });

  it('derives catalog, storage and tmp from a configured dataDir and resolves file paths against the file', () => {
    const c = load('dataDir: ./d\ndatabases:\n  - id: fin\n    path: dbs/fin.db\n');
    expect(c.dataDir).toBe(path.join(dir, 'd'));
    expect(c.catalogPath).toBe(path.join(dir, 'd', 'catalog.db'));
    expect(c.storageUrl).toBe(`file://${dir}/d/backups`);
    expect(c.databases).toHaveLength(1);
    expect(c.databases[0]).toMatchObject({ id: 'fin', path: path.join(dir, 'dbs/fin.db'), compression: { algorithm: 'gzip', level: 6 } });
    expect(c.databases[0]!.demo).toBeUndefined();
  });

  it('turns relative and bare storage paths into absolute, encoded file:// URLs', () => {
    expect(load('storageUrl: "./my backups"\n').storageUrl).toBe(`file://${dir}/my%20backups`);
    expect(load('storageUrl: "file://../up"\n').storageUrl).toBe(`file://${path.dirname(dir)}/up`);
    expect(load('storageUrl: /srv/b\n').storageUrl).toBe('file:///srv/b');
    expect(load('targets:\n  - name: nas\n    url: ./nas\n').targets[0]!.url).toBe(`file://${dir}/nas`);
  });

  it('keeps targets[].options as given (the driver checks names and values when the target is opened)', () => {
    const c = load('targets:\n  - name: offsite\n    url: s3://bucket/mfb\n    options: { region: eu-west-1, partSize: 16MiB, queueSize: 2, forcePathStyle: true }\n  - name: nas\n    url: ./nas\n');
    expect(c.targets[0]).toMatchObject({ name: 'offsite', url: 's3://bucket/mfb', options: { region: 'eu-west-1', partSize: '16MiB', queueSize: 2, forcePathStyle: true } });
    expect(c.targets[1]!.options).toBeUndefined();
  });

  it('uses ./mfb.config.yaml from cwd, then MFB_CONFIG, then opts.file', () => {
    writeYaml('log:\n  level: debug\n');
    expect(loadConfig({ env: {}, cwd: dir }).log.level).toBe('debug');
    expect(loadConfig({ env: {}, cwd: dir }).source).toBe(path.join(dir, 'mfb.config.yaml'));
    const other = writeYaml('log:\n  level: warn\n', 'other.yaml');
    expect(loadConfig({ env: { MFB_CONFIG: other }, cwd: dir }).log.level).toBe('warn');
    const third = writeYaml('log:\n  level: error\n', 'third.yaml');
    expect(loadConfig({ file: third, env: { MFB_CONFIG: other }, cwd: dir }).log.level).toBe('error');
  });

  it('fails clearly when a named config file is missing', () => {
    expect(() => loadConfig({ file: 'nope.yaml', env: {}, cwd: dir })).toThrow(expect.objectContaining({ code: 'CONFIG_FILE_NOT_FOUND' }));
    expect(() => loadConfig({ env: { MFB_CONFIG: '/no/such.yaml' }, cwd: dir })).toThrow(/\/no\/such\.yaml \(from MFB_CONFIG\) does not exist/);
  });

  it('loads a JSON config (JSON is YAML) in the shape of Config', () => {
    const json = {
      dataDir: path.join(dir, 'data'),
      catalogPath: path.join(dir, 'data', 'catalog.db'),
      tmpDir: path.join(dir, 'data', 'tmp'),
      storageUrl: `file://${path.join(dir, 'data', 'backups')}`,
      localRetention: { keepLast: 3 },
      databases: [{ id: 'db1', path: '/x/db1.db', compression: { algorithm: 'zstd', level: 3 }, targets: ['nas'], retention: { keepLast: 3 }, schedules: [], restoreDrill: { enabled: true, cron: '0 5 * * 1', timezone: 'Europe/Berlin' } }],
      targets: [{ name: 'nas', url: `file://${dir}/nas`, retention: { keepLast: 2 } }],
      redis: { url: 'redis://127.0.0.1:6379', prefix: 't-1', tls: false },
      worker: {
        host: 'db-1',
        concurrency: 4,
        lockTtlMs: 3000,
        lockReplicaTimeoutMs: 1000,
        lockReplicaRequired: false,
        orphanArtifactAgeMs: 3600000,
        shutdownGraceMs: 10000,
        metricsPort: 0,
        metricsHost: '127.0.0.1',
        attempts: { backup: 3, upload: 3, prune: 2, restore: 1, verify: 2 },
        backoffMs: 200,
      },
      api: { host: '127.0.0.1', port: 0, keys: [], metricsPublic: true, rateLimitPerMinute: 1000, bodyLimitBytes: 1000000 , corsOrigins: [], requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, idleTimeoutMs: 300_000 },
      health: { maxAgeIntervals: 2, failedBackups: 3, verifyMaxAgeDays: 0, diskFreePercent: 10, targetProbe: true, targetProbeTimeoutMs: 2000, targetProbeCacheSeconds: 60, cacheSeconds: 5 },
      notifications: { webhooks: [], timeoutMs: 5000, attempts: 4, backoffMs: 1000, queueSize: 1000 },
      log: { level: 'info' },
      housekeeping: { jobHistoryDays: 30, jobHistoryMax: 500, deletedBackupDays: 0 },
    };
    const c = load(JSON.stringify(json, null, 2));
    const { source: _s, keys: _k, ...rest } = c;
    expect(rest).toEqual(json);
  });
});

describe('environment overrides', () => {
  it('applies every documented variable', () => {
    const c = load('databases:\n  - id: a\n    path: /a.db\n', {
      MFB_DATA_DIR: 'elsewhere',
      REDIS_URL: 'rediss://:pw@redis.example:6380',
      MFB_REDIS_PREFIX: 'prod',
      MFB_LOG_LEVEL: 'debug',
      MFB_API_PORT: '9090',
      MFB_API_HOST: '0.0.0.0',
      MFB_API_KEYS: 'dash:0123456789abcdef-secret:read+write, ops:fedcba9876543210:secret:admin',
      MFB_ADMIN_USER: 'admin',
      MFB_ADMIN_PASSWORD: 'correct horse battery',
      MFB_WORKER_CONCURRENCY: '6',
      MFB_METRICS_PORT: '9999',
      MFB_METRICS_HOST: '0.0.0.0',
      MFB_LOCK_TTL_MS: '5000',
      MFB_SHUTDOWN_GRACE_MS: '100',
      MFB_KEY_MAIN_2024: KEY_B64,
      MFB_STORAGE_URL: 'file://./store',
      MFB_CATALOG_PATH: './cat.db',
      MFB_TMP_DIR: '/var/tmp/mfb',
    });
    expect(c.dataDir).toBe(path.join(dir, 'elsewhere'));
    expect(c.catalogPath).toBe(path.join(dir, 'cat.db'));
    expect(c.tmpDir).toBe('/var/tmp/mfb');
    expect(c.storageUrl).toBe(`file://${dir}/store`);
    expect(c.redis).toEqual({ url: 'rediss://:pw@redis.example:6380', prefix: 'prod', tls: true });
    expect(c.log.level).toBe('debug');
    expect(c.api.port).toBe(9090);
    expect(c.api.host).toBe('0.0.0.0');
    expect(c.api.keys).toEqual([
      { id: 'dash', key: '0123456789abcdef-secret', scopes: ['read', 'write'] },
      { id: 'ops', key: 'fedcba9876543210:secret', scopes: ['admin'] },
    ]);
    expect(c.api.adminUser).toBe('admin');
    expect(c.api.adminPassword).toBe('correct horse battery');
    expect(c.worker.concurrency).toBe(6);
    expect(c.worker.metricsPort).toBe(9999);
    expect(c.worker.metricsHost).toBe('0.0.0.0');
    expect(c.worker.lockTtlMs).toBe(5000);
    expect(c.worker.shutdownGraceMs).toBe(100);
    expect(c.keys.get('main_2024')!.toString('base64')).toBe(KEY_B64);
  });

  it('MFB_KEY_<ID> replaces the key of a configured id (- written as _)', () => {
    const other = randomBytes(32).toString('base64');
    const c = load(`keys:\n  - id: main-2024\n    base64: "${KEY_B64}"\n`, { MFB_KEY_MAIN_2024: other });
    expect([...c.keys.keys()]).toEqual(['main-2024']);
    expect(c.keys.get('main-2024')!.toString('base64')).toBe(other);
  });

  it('MFB_API_CORS_ORIGINS replaces the file list of CORS origins', () => {
    const c = load('api:\n  corsOrigins: ["https://a.example"]\n', { MFB_API_CORS_ORIGINS: 'https://dash.example.org, http://127.0.0.1:3000' });
    expect(c.api.corsOrigins).toEqual(['https://dash.example.org', 'http://127.0.0.1:3000']);
    expect(load('api:\n  corsOrigins: ["https://a.example"]\n').api.corsOrigins).toEqual(['https://a.example']);
  });

  it('environment wins over the file; empty variables are ignored', () => {
    const c = load('log:\n  level: warn\napi:\n  port: 1234\n', { MFB_LOG_LEVEL: 'error', MFB_API_PORT: '' });
    expect(c.log.level).toBe('error');
    expect(c.api.port).toBe(1234);
  });
});

describe('validation errors name the field and what is wrong', () => {
  const cases: Array<[string, string, string]> = [
    [
      'gzip level out of range',
      'databases:\n  - id: a\n    path: /a.db\n  - id: b\n    path: /b.db\n    compression: { algorithm: gzip, level: 12 }\n',
      'databases[1].compression.level: gzip level must be 1-9, got 12',
    ],
    ['zstd level out of range', 'databases:\n  - id: a\n    path: /a.db\n    compression: { algorithm: zstd, level: 22 }\n', 'databases[0].compression.level: zstd level must be 1-19, got 22'],
    ['unknown algorithm', 'databases:\n  - id: a\n    path: /a.db\n    compression: { algorithm: lz4 }\n', 'databases[0].compression.algorithm: must be one of gzip, zstd, none, got "lz4"'],
    ['unknown top-level key', 'databse: []\n', 'databse: unknown option (did you mean "databases"?)'],
    ['unknown nested key', 'databases:\n  - id: a\n    path: /a.db\n    compresion: {}\n', 'databases[0].compresion: unknown option (did you mean "compression"?)'],
    ['bad database id', 'databases:\n  - id: Finance DB\n    path: /a.db\n', 'databases[0].id: must match ^[a-z0-9][a-z0-9_-]{0,62}$'],
    ['database id too long', `databases:\n  - id: ${'a'.repeat(64)}\n    path: /a.db\n`, 'databases[0].id: must match'],
    ['duplicate database id', 'databases:\n  - id: a\n    path: /a.db\n  - id: a\n    path: /b.db\n', 'databases[1].id: duplicate database id "a"'],
    ['missing path', 'databases:\n  - id: a\n', 'databases[0].path: is required'],
    ['reserved target name', 'targets:\n  - name: local\n    url: file:///x\n', 'targets[0].name: "local" is reserved'],
    ['duplicate target', 'targets:\n  - name: nas\n    url: file:///x\n  - name: nas\n    url: file:///y\n', 'targets[1].name: duplicate target name "nas"'],
    ['bad target url', 'targets:\n  - name: nas\n    url: mnt/nas\n', 'targets[0].url: must be a storage URL'],
    ['unknown target in database', 'databases:\n  - id: a\n    path: /a.db\n    targets: [nas]\n', 'databases[0].targets[0]: no target named "nas" in targets (no targets configured)'],
    ['unknown encryption key', 'databases:\n  - id: a\n    path: /a.db\n    encryptionKeyId: main\n', 'databases[0].encryptionKeyId: no key with id "main" in keys (no keys configured)'],
    ['keepLast 0 and nothing else', 'localRetention:\n  keepLast: 0\n', 'localRetention.minKeep: must be >= 1 when no keep rule is set'],
    ['target options not a mapping', 'targets:\n  - name: s3\n    url: s3://b/p\n    options: [region]\n', 'targets[0].options: must be a mapping of option names to values, got a list'],
    ['target option not a scalar', 'targets:\n  - name: s3\n    url: s3://b/p\n    options: { region: [eu] }\n', 'targets[0].options.region: must be a string, number or boolean, got a list'],
    ['keepLast not a number', 'targets:\n  - name: nas\n    url: file:///x\n    retention: { keepLast: many }\n', 'targets[0].retention.keepLast: must be an integer >= 0, got "many"'],
    [
      'cron with 4 fields',
      'databases:\n  - id: a\n    path: /a.db\n    schedules:\n      - id: n\n        cron: "0 3 * *"\n',
      'databases[0].schedules[0].cron: cron must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got 4',
    ],
    [
      'unknown time zone',
      'databases:\n  - id: a\n    path: /a.db\n    schedules:\n      - id: n\n        cron: "0 3 * * *"\n        timezone: Europe/Atlantis\n',
      'databases[0].schedules[0].timezone: unknown time zone "Europe/Atlantis"',
    ],
    [
      'duplicate schedule id',
      'databases:\n  - id: a\n    path: /a.db\n    schedules:\n      - { id: n, cron: "0 3 * * *" }\n      - { id: n, cron: "0 4 * * *" }\n',
      'databases[0].schedules[1].id: duplicate schedule id "n" for this database',
    ],
    ['restore drill cron', 'databases:\n  - id: a\n    path: /a.db\n    restoreDrill: { cron: "0 3 * *" }\n', 'databases[0].restoreDrill.cron: cron must have 5 fields'],
    ['restore drill key', 'databases:\n  - id: a\n    path: /a.db\n    restoreDrill: { every: week }\n', 'databases[0].restoreDrill'],
    ['reserved schedule id', 'databases:\n  - id: a\n    path: /a.db\n    schedules:\n      - { id: restore-drill, cron: "0 3 * * *", job: verify }\n', 'databases[0].schedules[0].id: "restore-drill" is reserved for the restore drill'],
    ['schedule job', 'databases:\n  - id: a\n    path: /a.db\n    schedules:\n      - { id: n, cron: "0 3 * * *", job: upload }\n', 'databases[0].schedules[0].job: must be one of backup, verify, prune, got "upload"'],
    ['key of the wrong length', 'keys:\n  - id: k\n    base64: "c2hvcnQ="\n', 'keys[0].base64: must decode to 32 bytes (AES-256), got 5'],
    ['key not base64', 'keys:\n  - id: k\n    base64: "!!!notbase64!!!"\n', 'keys[0].base64: is not valid base64'],
    ['key with neither source', 'keys:\n  - id: k\n', 'keys[0]: needs exactly one of base64 or file'],
    ['missing key file', 'keys:\n  - id: k\n    file: ./missing.key\n', 'keys[0].file: key file'],
    ['redis url', 'redis:\n  url: http://localhost\n', 'redis.url: must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL'],
    ['worker concurrency', 'worker:\n  concurrency: 0\n', 'worker.concurrency: must be 1-256, got 0'],
    ['attempts', 'worker:\n  attempts: { backup: 0 }\n', 'worker.attempts.backup: must be 1-100, got 0'],
    ['log level', 'log:\n  level: loud\n', 'log.level: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    ['api scopes', 'api:\n  keys:\n    - { id: dash, key: "0123456789abcdefgh", scopes: [read, root] }\n', 'api.keys[0]: unknown scope "root"'],
    ['cors wildcard', 'api:\n  corsOrigins: ["*"]\n', 'api.corsOrigins[0]: wildcards are not allowed'],
    ['cors origin with a path', 'api:\n  corsOrigins: ["https://dash.example.org/"]\n', 'api.corsOrigins[0]: must be an origin: http(s)://host[:port]'],
    ['headers timeout above request timeout', 'api:\n  requestTimeoutMs: 5000\n  headersTimeoutMs: 6000\n', 'api.headersTimeoutMs: must not exceed api.requestTimeoutMs (5000), got 6000'],
    ['admin user without password', 'api:\n  adminUser: admin\n', 'api.adminPassword: adminUser and adminPassword must be set together'],
    ['root not a mapping', '- 1\n- 2\n', '(root): must be a mapping, got a list'],
    ['database host', 'databases:\n  - { id: a, path: a.db, host: "DB 1" }\n', 'databases[0].host: must match ^[a-z0-9][a-z0-9._-]{0,62}$'],
    ['worker host with @', 'worker:\n  host: "db@1"\n', 'worker.host: must match ^[a-z0-9][a-z0-9._-]{0,62}$'],
    ['catalog url', 'catalogUrl: mysql://u:pw@db/x\n', 'catalogUrl: must be a postgres:// URL (omit it for the embedded SQLite catalog at catalogPath), got "mysql://db/x"'],
  ];
  for (const [name, yamlText, expected] of cases) {
    it(name, () => {
      const err = problemOf(yamlText);
      expect(err.message).toContain(expected);
      expect(err.problems.some((p) => p.includes(expected))).toBe(true);
    });
  }

  it('restoreDrill: weekly by default, its own cron and time zone, or false for off', () => {
    const load = (text: string) => {
      writeFileSync(path.join(dir, 'drill.yaml'), text);
      return loadConfig({ file: path.join(dir, 'drill.yaml'), env: {}, cwd: dir }).databases.map((d) => d.restoreDrill);
    };
    expect(
      load(
        'databases:\n  - { id: a, path: /a.db }\n  - { id: b, path: /b.db, restoreDrill: false }\n  - { id: c, path: /c.db, restoreDrill: { cron: "0 2 1 * *", timezone: Europe/Berlin } }\n  - { id: d, path: /d.db, restoreDrill: { enabled: false } }\n',
      ),
    ).toEqual([
      { enabled: true, cron: '30 4 * * 0', timezone: 'UTC' },
      { enabled: false, cron: '30 4 * * 0', timezone: 'UTC' },
      { enabled: true, cron: '0 2 1 * *', timezone: 'Europe/Berlin' },
      { enabled: false, cron: '30 4 * * 0', timezone: 'UTC' },
    ]);
  });

  it('environment variables are named in their errors', () => {
    expect(problemOf(undefined, { MFB_API_PORT: 'eighty' }).message).toContain('env MFB_API_PORT: must be an integer, got a string "eighty"');
    expect(problemOf(undefined, { MFB_API_PORT: '70000' }).message).toContain('env MFB_API_PORT: must be 0-65535, got 70000');
    expect(problemOf(undefined, { MFB_LOG_LEVEL: 'loud' }).message).toContain('env MFB_LOG_LEVEL: must be one of');
    expect(problemOf(undefined, { MFB_WORKER_CONCURRENCY: '0' }).message).toContain('env MFB_WORKER_CONCURRENCY: must be 1-256, got 0');
    expect(problemOf(undefined, { MFB_KEY_MAIN: 'dG9vIHNob3J0' }).message).toContain('env MFB_KEY_MAIN: must decode to 32 bytes');
    expect(problemOf(undefined, { MFB_API_KEYS: 'justonepart' }).message).toContain('env MFB_API_KEYS[0]: must be id:secret:scopes');
    expect(problemOf(undefined, { REDIS_URL: 'localhost:6379' }).message).toContain('env REDIS_URL: must be a redis://');
  });

  it('accepts Sentinel and Cluster Redis URLs and a PostgreSQL catalog; TLS follows rediss', () => {
    const c = load('catalogUrl: postgres://mfb:pw@db.internal:5432/mfb?schema=prod\nredis:\n  url: rediss+sentinel://:pw@s1:26379,s2:26379/mymaster\n');
    expect(c.catalogUrl).toBe('postgres://mfb:pw@db.internal:5432/mfb?schema=prod');
    expect(c.redis).toMatchObject({ url: 'rediss+sentinel://:pw@s1:26379,s2:26379/mymaster', tls: true });
    expect(JSON.stringify(redactConfig(c))).not.toContain('pw');
    expect(load(undefined, { REDIS_URL: 'redis+cluster://n1:7000,n2:7001', MFB_CATALOG_URL: 'postgresql://h/db' })).toMatchObject({
      catalogUrl: 'postgresql://h/db',
      redis: { url: 'redis+cluster://n1:7000,n2:7001', tls: false },
    });
    expect(load(undefined, {}).catalogUrl).toBeUndefined();
  });

  it('reports every problem at once', () => {
    const err = problemOf('log:\n  level: loud\nworker:\n  concurrency: 0\ndatabse: []\n');
    expect(err.problems).toHaveLength(3);
  });

  it('never echoes secret values', () => {
    const secrets = ['SuperSecretApiKey', 'hunter2hunter2!', 'redispass', 'c2VjcmV0IGtleSBtYXRlcmlhbA==', 'shortkey', 'tok3n'];
    const errs = [
      problemOf('api:\n  keys:\n    - { id: "Bad Id", key: "SuperSecretApiKey-0123", scopes: [nope] }\n'),
      problemOf('api:\n  adminPassword: "hunter2hunter2!"\n'),
      problemOf('redis:\n  url: "http://user:redispass@host"\n'),
      problemOf('keys:\n  - id: k\n    base64: "c2VjcmV0IGtleSBtYXRlcmlhbA=="\n'),
      problemOf(undefined, { MFB_API_KEYS: 'dash:shortkey:read' }),
      problemOf(undefined, { MFB_KEY_X: 'c2VjcmV0IGtleSBtYXRlcmlhbA==' }),
      problemOf(undefined, { REDIS_URL: 'http://u:redispass@h' }),
      problemOf('targets:\n  - name: s3\n    url: "bad:tok3n@bucket"\n'),
      problemOf('api:\n  keys: [ { id: a, key: "SuperSecretApiKey" } ] ]\n'),
    ];
    for (const e of errs) {
      const text = e.message + JSON.stringify(e.toJSON()) + e.problems.join('\n');
      for (const s of secrets) expect(text).not.toContain(s);
    }
  });

  it('YAML syntax errors give file, line and column', () => {
    const err = problemOf('log:\n  level: info\n   bad: [\n');
    expect(err.message).toMatch(/c\.yaml:\d+:\d+: /);
  });

  it('refuses key files readable by group or others, and accepts 0600 ones', () => {
    const kf = path.join(dir, 'main.key');
    writeFileSync(kf, KEY_B64 + '\n', { mode: 0o644 });
    chmodSync(kf, 0o644);
    const err = problemOf('keys:\n  - id: main\n    file: ./main.key\n');
    expect(err.message).toContain(`keys[0].file: key file ${kf} is accessible by group or others (mode 0644); refusing to use it: run chmod 600 ${kf}`);
    expect(err.message).not.toContain(KEY_B64);
    chmodSync(kf, 0o640);
    expect(problemOf('keys:\n  - id: main\n    file: ./main.key\n').message).toContain('mode 0640');
    chmodSync(kf, 0o600);
    const c = load('keys:\n  - id: main\n    file: ./main.key\ndatabases:\n  - id: a\n    path: /a.db\n    encryptionKeyId: main\n');
    expect(c.keys.get('main')!.toString('base64')).toBe(KEY_B64);
    expect(c.databases[0]!.encryptionKeyId).toBe('main');
  });
});

describe('retention policies (localRetention, databases[].retention, targets[].retention)', () => {
  const base = 'targets:\n  - name: nas\n    url: file:///x\n';
  it('accept the full policy, byte sizes as numbers or strings; absent or empty policies inherit localRetention', () => {
    const c = load(
      'localRetention:\n  keepDaily: 7\n  keepWeekly: 4\n  timezone: Europe/Berlin\n' +
        'targets:\n  - name: nas\n    url: file:///x\n    retention: { keepMonthly: 12, maxTotalBytes: 10GiB, minKeep: 3 }\n  - name: usb\n    url: file:///y\n' +
        'databases:\n' +
        '  - id: a\n    path: /a.db\n    targets: [nas, usb]\n    retention:\n      keepLast: 5\n      keepHourly: 24\n      keepYearly: 2\n      keepWithin: 30d\n      maxAge: 1y2m\n      maxTotalBytes: 1000000\n      minKeep: 2\n      timezone: America/New_York\n' +
        '  - id: b\n    path: /b.db\n  - id: c\n    path: /c.db\n    retention: {}\n',
    );
    const inherited = { keepDaily: 7, keepWeekly: 4, timezone: 'Europe/Berlin' };
    expect(c.localRetention).toEqual(inherited);
    expect(c.databases[0]!.retention).toEqual({
      keepLast: 5,
      keepHourly: 24,
      keepYearly: 2,
      keepWithin: '30d',
      maxAge: '1y2m',
      maxTotalBytes: 1_000_000,
      minKeep: 2,
      timezone: 'America/New_York',
    });
    expect(c.databases[1]!.retention).toEqual(inherited);
    expect(c.databases[2]!.retention).toEqual(inherited);
    expect(c.targets[0]!.retention).toEqual({ keepMonthly: 12, maxTotalBytes: 10 * 2 ** 30, minKeep: 3 });
    expect(c.targets[1]!.retention).toEqual(inherited);
    expect(Object.isFrozen(c.databases[0]!.retention)).toBe(true);
  });

  const cases: Array<[string, string, string]> = [
    ['negative count', 'databases:\n  - id: a\n    path: /a.db\n    retention: { keepDaily: -1 }\n', 'databases[0].retention.keepDaily: must be an integer >= 0, got -1'],
    ['fractional count', 'localRetention: { keepLast: 2.5 }\n', 'localRetention.keepLast: must be an integer >= 0, got 2.5'],
    ['typo with a hint', 'databases:\n  - id: a\n    path: /a.db\n    retention: { keepDayly: 7 }\n', 'databases[0].retention.keepDayly: unknown option (did you mean "keepDaily"?)'],
    ['unknown duration unit', `${base}    retention: { keepWithin: 2w }\n`, 'targets[0].retention.keepWithin: unknown unit "w" in "2w"'],
    ['zero duration', 'localRetention: { maxAge: 0d }\n', 'localRetention.maxAge: must be longer than zero'],
    ['unknown time zone', 'localRetention: { keepDaily: 7, timezone: Europe/Berln }\n', 'localRetention.timezone: unknown time zone "Europe/Berln"'],
    ['bad byte size', `${base}    retention: { keepLast: 3, maxTotalBytes: 10 gigs }\n`, 'targets[0].retention.maxTotalBytes: must be a number of bytes or a size such as "10GiB"'],
    ['zero budget', `${base}    retention: { keepLast: 3, maxTotalBytes: 0 }\n`, 'targets[0].retention.maxTotalBytes: must be at least 1 byte'],
    ['nothing to keep', 'databases:\n  - id: a\n    path: /a.db\n    retention: { minKeep: 0, maxTotalBytes: 1GiB }\n', 'databases[0].retention.minKeep: must be >= 1 when no keep rule is set'],
    ['not a mapping', 'localRetention: 7\n', 'localRetention: must be a mapping, got a number'],
  ];
  for (const [name, yamlText, expected] of cases) {
    it(`refuses ${name} at boot, naming the exact path`, () => {
      const err = problemOf(yamlText);
      expect(err.problems.some((p) => p.startsWith(expected))).toBe(true);
    });
  }

  it('reports a bad policy in each place at once', () => {
    const err = problemOf(`localRetention: { keepLast: -1 }\n${base}    retention: { keepWithin: 3 weeks }\ndatabases:\n  - id: a\n    path: /a.db\n    retention: { keepMonthly: x }\n`);
    expect(err.problems.filter((p) => /retention|Retention/.test(p))).toHaveLength(3);
  });
});

describe('renderConfigTemplate and generateKeyFile', () => {
  it('the default template is commented, parses back and equals the defaults', () => {
    const text = renderConfigTemplate();
    expect(text.split('\n').filter((l) => l.trim().startsWith('#')).length).toBeGreaterThan(40);
    for (const opt of ['dataDir', 'catalogPath', 'tmpDir', 'storageUrl', 'localRetention', 'keys', 'databases', 'targets', 'redis', 'worker', 'api', 'log', 'encryptionKeyId', 'schedules', 'timezone']) {
      expect(text).toContain(opt);
    }
    for (const env of ['MFB_DATA_DIR', 'REDIS_URL', 'MFB_REDIS_PREFIX', 'MFB_LOG_LEVEL', 'MFB_API_PORT', 'MFB_API_HOST', 'MFB_API_KEYS', 'MFB_ADMIN_USER', 'MFB_ADMIN_PASSWORD', 'MFB_WORKER_CONCURRENCY', 'MFB_METRICS_PORT', 'MFB_KEY_']) {
      expect(text).toContain(env);
    }
    writeYaml(text);
    const fromTemplate = loadConfig({ env: {}, cwd: dir });
    const defaults = loadConfig({ env: {}, cwd: dir, file: writeYaml('{}\n', 'empty.yaml') });
    const strip = (c: Config): unknown => ({ ...c, source: '' });
    expect(strip(fromTemplate)).toEqual(strip(defaults));
  });

  it('the template with a database and a generated key is valid and encrypts that database', () => {
    const key = generateKeyFile(path.join(dir, 'keys', 'main.key'));
    expect(key.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const text = renderConfigTemplate({ dataDir: './data', database: { id: 'finance', path: './finance.db' }, key: { id: 'main', file: './keys/main.key' } });
    expect(() => parse(text)).not.toThrow();
    writeYaml(text);
    const c = loadConfig({ env: {}, cwd: dir });
    expect(c.databases).toHaveLength(1);
    expect(c.databases[0]).toMatchObject({ id: 'finance', path: path.join(dir, 'finance.db'), encryptionKeyId: 'main' });
    expect(c.databases[0]!.schedules).toEqual([{ id: 'nightly', cron: '0 3 * * *', timezone: 'UTC', job: 'backup', paused: false }]);
    expect(c.keys.get('main')).toEqual(Buffer.from(readFileSync(key.path, 'utf8').trim(), 'base64'));
  });

  it('generateKeyFile writes 32 random bytes base64 to a 0600 file and refuses to overwrite', () => {
    const f = path.join(dir, 'k', 'a.key');
    const r = generateKeyFile(f);
    expect(r.path).toBe(f);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(f)).mode & 0o777).toBe(0o700);
    const text = readFileSync(f, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(Buffer.from(text.trim(), 'base64')).toHaveLength(32);
    expect(() => generateKeyFile(f)).toThrow(expect.objectContaining({ code: 'CONFIG_KEY_FILE_EXISTS' }));
    expect(readFileSync(f, 'utf8')).toBe(text);
    const g = path.join(dir, 'k', 'b.key');
    generateKeyFile(g);
    expect(readFileSync(g, 'utf8')).not.toBe(text);
  });
});

describe('redactConfig', () => {
  it('hides API keys, passwords, URL credentials and key material', () => {
    const c = load('targets:\n  - name: nas\n    url: "s3://AKIA:s3cr3t@bucket/x"\n    options: { secretAccessKey: opts3cr3t, region: eu }\n', {
      MFB_API_KEYS: 'dash:0123456789abcdef-secret:read',
      MFB_ADMIN_USER: 'admin',
      MFB_ADMIN_PASSWORD: 'correct horse battery',
      REDIS_URL: 'redis://:redispw@h:6379',
      MFB_KEY_MAIN: KEY_B64,
    });
    const text = JSON.stringify(redactConfig(c));
    for (const s of ['0123456789abcdef-secret', 'correct horse battery', 'redispw', 's3cr3t', 'opts3cr3t', KEY_B64]) expect(text).not.toContain(s);
    expect(text).toContain('"region":"eu"');
    expect(text).toContain('"main"');
  });
});
