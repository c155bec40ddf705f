import { existsSync } from 'node:fs';
import { chmod, rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { openCatalog } from '@mfb/catalog';
import { DEFAULT_CONFIG_FILE, generateKeyFile, keyFingerprint, loadConfig, renderConfigTemplate } from '@mfb/config';
import { ID_RE, ID_RULE } from '@mfb/client';
import { fileUrlToRoot } from '@mfb/storage';
import { ensurePrivateDirs, type Context } from '../context.js';
import { ConfigExistsError, UsageError } from '../errors.js';
import { fields } from '../format.js';
import { readKeyFileOrThrow } from '../artifacts.js';

export interface InitOptions {
  dataDir?: string;
  keyId?: string;
  database?: string;
  force?: boolean;
}

/** A path as written into the config: relative to the config file's directory when inside it. */
function forConfig(configDir: string, p: string): string {
  const rel = relative(configDir, p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? `./${rel}` : p;
}

/**
 * Set a machine up: config file (commented, from the config package's template), an
 * encryption key in a 0600 key file (never overwritten), data directories 0700, catalog
 * migrations. The key itself is never printed (only its fingerprint).
 */
export async function runInit(ctx: Context, o: InitOptions) {
  const configPath = resolve(ctx.opts.config ?? DEFAULT_CONFIG_FILE);
  const configDir = dirname(configPath);
  if (existsSync(configPath) && !o.force) throw new ConfigExistsError(configPath);
  const dataDir = resolve(o.dataDir ?? './data');
  const keyId = o.keyId ?? 'primary';
  if (!ID_RE.test(keyId)) throw new UsageError(`--key-id must match ${ID_RULE} (got "${keyId}")`);
  let database: { id: string; path: string } | undefined;
  if (o.database !== undefined) {
    const m = /^([^=]+)=(.+)$/.exec(o.database);
    if (!m || !ID_RE.test(m[1]!)) throw new UsageError(`--database must be <id>=<path> with id matching ${ID_RULE} (got "${o.database}")`);
    database = { id: m[1]!, path: resolve(m[2]!) };
  }

  const keysDir = join(dataDir, 'keys');
  await ensurePrivateDirs([dataDir, keysDir]);
  const keyFile = join(keysDir, `${keyId}.key`);
  let fingerprint: string;
  const keyExisted = existsSync(keyFile);
  if (keyExisted) {
    // Never overwrite a key: backups made with it would become unreadable.
    await chmod(keyFile, 0o600);
    fingerprint = keyFingerprint(readKeyFileOrThrow(keyFile));
  } else {
    fingerprint = generateKeyFile(keyFile).fingerprint;
  }

  const text = renderConfigTemplate({
    dataDir: forConfig(configDir, dataDir),
    ...(database ? { database: { id: database.id, path: database.path } } : {}),
    key: { id: keyId, file: forConfig(configDir, keyFile) },
  });
  const tmp = `${configPath}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, configPath);

  // Read it back through the validator: init must leave a config that loads.
  const cfg = loadConfig({ file: configPath });
  const dirs = [cfg.dataDir, cfg.tmpDir, dirname(cfg.catalogPath)];
  if (cfg.storageUrl.startsWith('file:')) dirs.push(fileUrlToRoot(cfg.storageUrl));
  const unique = [...new Set(dirs)];
  await ensurePrivateDirs(unique);
  const catalog = await openCatalog(cfg.catalogPath);
  try {
    await catalog.migrate();
  } finally {
    await catalog.close();
  }
  return {
    configPath,
    keyFile,
    keyId,
    keyFingerprint: fingerprint,
    keyGenerated: !keyExisted,
    dataDir: cfg.dataDir,
    storageUrl: cfg.storageUrl,
    catalogPath: cfg.catalogPath,
    directories: unique,
    databases: cfg.databases.map((d) => d.id),
  };
}

export function humanInit(r: Awaited<ReturnType<typeof runInit>>): string {
  return [
    `wrote ${r.configPath}`,
    fields([
      ['data dir', `${r.dataDir} (0700)`],
      ['storage', r.storageUrl],
      ['catalog', `${r.catalogPath} (migrated)`],
      ['key', `${r.keyFile} (0600, key id "${r.keyId}", fingerprint ${r.keyFingerprint}${r.keyGenerated ? ', new' : ', existing key kept'})`],
      ['databases', r.databases.length ? r.databases.join(', ') : '(none yet: add them to the config, or run `backupctl demo`)'],
    ]),
    '',
    `IMPORTANT: keep an offline copy of ${r.keyFile} somewhere other than this machine and its backups`,
    '(a password manager, or a USB stick in a safe). Encrypted backups cannot be restored without it;',
    'anyone who has it and a backup can read your finances.',
  ].join('\n');
}
