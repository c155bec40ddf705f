import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, writeSync, fsyncSync } from 'node:fs';
import path from 'node:path';
import { ID_PATTERN } from '@mfb/client';
import { ConfigError } from './errors.js';
import { DEFAULTS } from './defaults.js';

export interface ConfigTemplateOptions {
  /** Data directory written into the file (default `./data`). */
  dataDir?: string;
  /** A database to configure; absent = the section is commented out (the demo database is used). */
  database?: { id: string; path: string };
  /** An encryption key file (see {@link generateKeyFile}); the database (if any) is encrypted with it. */
  key?: { id: string; file: string };
}

const q = (s: string): string => JSON.stringify(s);

/**
 * A commented example config file (YAML) explaining every option, for `backupctl init`.
 * The result parses back with `loadConfig` and is valid as long as the key file (if any)
 * exists with mode 0600.
 */
export function renderConfigTemplate(opts: ConfigTemplateOptions = {}): string {
  const d = DEFAULTS;
  const dataDir = opts.dataDir ?? d.dataDir;
  const keysSection = opts.key
    ? `keys:
  - id: ${opts.key.id}
    # A file holding the base64 of 32 random bytes, mode 0600 (group/world-readable key
    # files are refused). KEEP A COPY OF IT OUTSIDE THIS MACHINE (password manager, safe):
    # without it, encrypted backups cannot be restored.
    file: ${q(opts.key.file)}
  # Retired keys stay listed so older backups remain readable:
  # - id: old-2025
  #   base64: "<base64 of 32 bytes>"   # inline, or via env MFB_KEY_OLD_2025`
    : `keys: []
  # - id: main
  #   file: ./keys/main.key            # base64 of 32 bytes, mode 0600 (backupctl init creates one)
  # - id: old-2025
  #   base64: "<base64 of 32 bytes>"   # inline, or via env MFB_KEY_OLD_2025`;

  const dbEntry = (indent: string, c: string, id: string, p: string, keyId?: string): string =>
    [
      `${indent}${c}- id: ${id}                       # ${ID_PATTERN.slice(1, -1)}; used in storage keys, URLs, metrics`,
      `${indent}${c}  path: ${q(p)}   # the live SQLite file (WAL or rollback journal)`,
      `${indent}${c}  # host: db-1                     # several hosts: the one holding the file; its backups run only on workers of that host`,
      `${indent}${c}  compression:`,
      `${indent}${c}    algorithm: gzip                # gzip (levels 1-9, default ${d.compression.gzip}), zstd (1-19, default ${d.compression.zstd}) or none`,
      `${indent}${c}    level: ${d.compression.gzip}`,
      keyId
        ? `${indent}${c}  encryptionKeyId: ${keyId}        # a key id from keys:; omit to store unencrypted`
        : `${indent}${c}  # encryptionKeyId: main          # a key id from keys:; omit to store unencrypted`,
      `${indent}${c}  targets: []                      # extra copies, names from targets: (e.g. [nas])`,
      `${indent}${c}  retention:                       # primary storage policy of this database (default: localRetention)`,
      `${indent}${c}    keepLast: ${d.keepLast}                      # newest N kept; pinned backups and the newest are always kept`,
      `${indent}${c}    # keepDaily: 7                 # newest backup of each of the last 7 days with backups`,
      `${indent}${c}    # keepWeekly: 4                # ... of each of the last 4 ISO weeks`,
      `${indent}${c}    # keepMonthly: 12              # ... of each of the last 12 months`,
      `${indent}${c}    # maxTotalBytes: 10GiB         # then delete the oldest until the kept total fits`,
      `${indent}${c}    # minKeep: 3                   # the newest 3 survive maxAge and maxTotalBytes`,
      `${indent}${c}    # timezone: Europe/Berlin      # calendar buckets (days, weeks...) in this zone; default UTC`,
      `${indent}${c}  schedules:`,
      `${indent}${c}    - id: nightly                  # unique per database`,
      `${indent}${c}      cron: "0 3 * * *"            # 5 fields (min hour dom month dow) or 6 (seconds first)`,
      `${indent}${c}      timezone: UTC                # IANA name, e.g. Europe/Berlin`,
      `${indent}${c}      job: backup                  # backup | verify | prune`,
      `${indent}${c}      paused: false`,
    ].join('\n');

  const databasesSection = opts.database
    ? `databases:\n${dbEntry('  ', '', opts.database.id, opts.database.path, opts.key?.id)}`
    : `# With no databases configured, a demo finance database "${d.demoDatabaseId}" at <dataDir>/demo/finance.db
# is used (the CLI generates it when missing). Configure yours like this:
databases: []
${dbEntry('  ', '# ', 'finance', '/var/lib/myfinance/finance.db')}`;

  return `# MyFinance Backup configuration.
#
# Precedence: built-in defaults < this file < environment variables (listed beside each
# option and in docs/configuration.md). Relative paths in this file are resolved against the
# directory of this file. Unknown options are rejected, so a typo fails at start-up.
# Secrets (keys, API keys, passwords) are never logged; prefer the environment for them.

# Root of the embedded defaults (catalog, local backups, scratch space); created 0700.
# env: MFB_DATA_DIR
dataDir: ${q(dataDir)}

# SQLite catalog of backups, schedules and job history. Default <dataDir>/catalog.db.
# env: MFB_CATALOG_PATH
# catalogPath: ./data/catalog.db

# Scratch space for snapshots and restores (needs room for one database). Default <dataDir>/tmp.
# env: MFB_TMP_DIR
# tmpDir: ./data/tmp

# Primary storage every backup is written to first. Default file://<dataDir>/backups.
# file:///absolute/path or file://./relative/path (relative to this file).
# env: MFB_STORAGE_URL
# storageUrl: file://./data/backups

# Default retention policy: of the primary storage for databases that do not set their own
# \`retention\`, and of every target without its own. A backup is kept when ANY rule keeps it;
# pinned backups and the newest are always kept. Rules and examples: docs/retention.md.
localRetention:
  keepLast: ${d.keepLast}                   # the newest N backups
  # keepHourly: 24                # newest backup of each of the last N hours / days / ISO weeks /
  # keepDaily: 7                  # months / years that have backups (restic's forget rules)
  # keepWeekly: 4
  # keepMonthly: 12
  # keepYearly: 3
  # keepWithin: 30d               # every backup within 30 days of the newest (units y m d h: 1y2m, 36h)
  # maxAge: 90d                   # older than 90 days (from now) go, unless another rule keeps them
  # maxTotalBytes: 10GiB          # after the rules, delete the oldest until the kept total fits (bytes, MB, GiB...)
  # minKeep: 3                    # the newest N are kept whatever maxAge and maxTotalBytes say
  # timezone: UTC                 # IANA zone of the calendar buckets, e.g. Europe/Berlin

# Encryption keys (AES-256), by id. The id is written into every encrypted backup, so keys
# can rotate: add a new key, point encryptionKeyId at it, keep the old one for restores.
# env: MFB_KEY_<ID>=<base64> (ID upper-case, - written as _) adds or replaces a key.
${keysSection}

# The SQLite databases to back up.
${databasesSection}

# Extra storage locations each backup is copied to after it is written (the name "local"
# is reserved for the primary storage): file:// (e.g. a NAS mount) or s3:// (AWS S3, MinIO,
# Ceph, R2, Wasabi; see docs/storage-s3.md). Credentials never go here: S3 uses the AWS chain
# (env, ~/.aws, instance role) or options.credentialsFile.
targets: []
  # - name: nas
  #   url: file:///mnt/nas/myfinance-backups
  #   retention:                  # this target's own policy (default: localRetention)
  #     keepLast: 30
  # - name: offsite
  #   url: s3://my-bucket/myfinance
  #   options:
  #     region: eu-central-1
  #     storageClass: STANDARD_IA   # cheaper storage, still restores at once (not GLACIER)
  #   retention:
  #     keepDaily: 14
  #     keepMonthly: 24
  #     maxTotalBytes: 500GiB
  #     timezone: Europe/Berlin

# Redis for the job queues (BullMQ). Set maxmemory-policy noeviction on it.
redis:
  url: ${q(d.redisUrl)}   # env REDIS_URL; rediss:// for TLS
  prefix: ${d.redisPrefix}                     # env MFB_REDIS_PREFIX; lets deployments share one Redis
  # tls: false                    # default: true for rediss:// URLs

worker:
  # host: db-1                    # env MFB_HOST; the host this process is on (default: the machine name); see docs/scaling.md
  concurrency: ${d.concurrency}                 # env MFB_WORKER_CONCURRENCY; jobs at once per queue per worker process (one per database at a time);
                                  # a backup already uses every core for compression, so more than cores/processes oversubscribes
  lockTtlMs: ${d.lockTtlMs}             # env MFB_LOCK_TTL_MS; per-database lock, renewed while a job runs; a killed worker blocks at most this long
  # lockReplicaTimeoutMs: ${d.lockReplicaTimeoutMs}      # Redis Sentinel: each lock write waits this long for a replica (WAIT); 0 = no wait
  # lockReplicaRequired: false    # Sentinel: fail (retry) a job whose lock no replica acknowledged, instead of a warning
  orphanArtifactAgeMs: ${d.orphanArtifactAgeMs}   # an artifact without manifest (writer killed in between) older than this is deleted, under the lock
  shutdownGraceMs: ${d.shutdownGraceMs}       # env MFB_SHUTDOWN_GRACE_MS; SIGTERM waits this long for running jobs, then aborts them
  metricsPort: ${d.metricsPort}              # env MFB_METRICS_PORT; Prometheus /metrics (0 = any free port)
  metricsHost: ${q(d.metricsHost)}     # env MFB_METRICS_HOST; 0.0.0.0 to let a remote Prometheus scrape
  backoffMs: ${d.backoffMs}                # first retry delay; exponential with jitter after that
  attempts:                       # tries per job type (permanent errors fail at once)
    backup: ${d.attempts.backup}
    upload: ${d.attempts.upload}
    prune: ${d.attempts.prune}
    restore: ${d.attempts.restore}
    verify: ${d.attempts.verify}

api:
  host: ${q(d.apiHost)}         # env MFB_API_HOST
  port: ${d.apiPort}                      # env MFB_API_PORT
  # API keys: env MFB_API_KEYS=id:secret:read+write,id2:secret2:admin replaces this list.
  # Scopes: read (list, inspect, metrics), write (backup, verify, delete, pin, schedules),
  # admin (restores, which write files or replace the live database; Bull Board). admin > write > read.
  keys: []
    # - id: dashboard
    #   key: "<at least 16 random characters: openssl rand -base64 32>"
    #   scopes: [read, write]
  metricsPublic: false            # true = /metrics without an API key
  # Basic auth for the Bull Board UI (/admin/queues); both or neither; password >= 12 characters.
  # env: MFB_ADMIN_USER, MFB_ADMIN_PASSWORD
  # adminUser: admin
  # adminPassword: "<secret>"
  rateLimitPerMinute: ${d.rateLimitPerMinute}         # per API key (or per IP before authentication)
  bodyLimitBytes: ${d.bodyLimitBytes}        # largest accepted request body
  # Browser origins allowed to call the API (CORS), e.g. the dashboard's; none by default.
  # env MFB_API_CORS_ORIGINS=https://dash.example.org,http://127.0.0.1:3000 replaces this list.
  corsOrigins: []
  requestTimeoutMs: ${d.requestTimeoutMs}        # the whole request (headers + body) must arrive within this, else 408
  headersTimeoutMs: ${d.headersTimeoutMs}        # the headers must arrive within this, else 408
  idleTimeoutMs: ${d.idleTimeoutMs}          # a connection silent in both directions this long is closed

log:
  level: ${d.logLevel}                     # env MFB_LOG_LEVEL; fatal, error, warn, info, debug, trace or silent
`;
}

/**
 * Write a new random AES-256 key (base64 of 32 bytes, one line) to `file` with mode 0600,
 * creating missing parent directories 0700. Refuses to overwrite an existing file
 * (CONFIG_KEY_FILE_EXISTS). Returns a fingerprint (first 16 hex of SHA-256 of the key) that
 * identifies the key without revealing it.
 */
export function generateKeyFile(file: string): { path: string; fingerprint: string } {
  const abs = path.resolve(file);
  mkdirSync(path.dirname(abs), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(abs, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConfigError('CONFIG_KEY_FILE_EXISTS', `key file ${abs} already exists; refusing to overwrite a key`, [`${abs}: exists`]);
    }
    throw err;
  }
  const key = randomBytes(32);
  try {
    writeSync(fd, key.toString('base64') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { path: abs, fingerprint: keyFingerprint(key) };
}

/** First 16 hex characters of SHA-256 of the key: identifies a key without revealing it. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}
