import { existsSync } from 'node:fs';
import { chmod, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { openCatalog } from '@mfb/catalog';
import { generateKeyFile, loadConfig, renderConfigTemplate } from '@mfb/config';
import { fileUrlToRoot } from '@mfb/storage';
import { ensurePrivateDirs, type Context } from '../context.js';
import { ConfigExistsError, UsageError } from '../errors.js';
import { fields } from '../format.js';

/** Where `init` writes the config when no `--config` is given. */
export const DEFAULT_CONFIG_FILE = 'myfinance-backup.yaml';

export interface InitOptions {
  dataDir?: string;
  keyId?: string;
  database?: string[];
  force?: boolean;
}

/**
 * Set a machine up: config file (commented, from the config package's template), an
 * encryption key in a 0600 key file (never overwritten), data directories 0700, catalog
 * migrations. The key itself is never printed.
 */
export async function runInit(ctx: Context, o: InitOptions) {
  const configPath = resolve(ctx.opts.config ?? DEFAULT_CONFIG_FILE);
  if (existsSync(configPath) && !o.force) throw new ConfigExistsError(configPath);
  const dataDir = resolve(o.dataDir ?? './data');
  const keyId = o.keyId ?? 'primary';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(keyId)) throw new UsageError(`--key-id must be 1-64 of [A-Za-z0-9._-] (got "${keyId}")`);
  const databases = (o.database ?? []).map((spec) => {
    const m = /^([a-z0-9][a-z0-9_-]{0,62})=(.+)$/.exec(spec);
    if (!m) throw new UsageError(`--database must be <id>=<path> with id matching [a-z0-9][a-z0-9_-]{0,62} (got "${spec}")`);
    return { id: m[1]!, path: resolve(m[2]!) };
  });

  const keysDir = join(dataDir, 'keys');
  await ensurePrivateDirs([dataDir, keysDir, dirname(configPath)]);
  const keyFile = join(keysDir, `${keyId}.key`);
  const keyExisted = existsSync(keyFile);
  if (!keyExisted) await generateKeyFile(keyFile);
  await chmod(keyFile, 0o600);

  const text = renderConfigTemplate({ dataDir, keyId, keyFile, databases });
  const tmp = `${configPath}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, configPath);

  // Read it back through the validator: init must leave a config that loads.
  const cfg = await loadConfig({ file: configPath });
  const dirs = [cfg.dataDir, cfg.tmpDir, dirname(cfg.catalogPath)];
  if (cfg.storageUrl.startsWith('file:')) dirs.push(fileUrlToRoot(cfg.storageUrl));
  await ensurePrivateDirs([...new Set(dirs)]);
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
    keyGenerated: !keyExisted,
    dataDir: cfg.dataDir,
    storageUrl: cfg.storageUrl,
    catalogPath: cfg.catalogPath,
    directories: [...new Set(dirs)],
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
      ['key', `${r.keyFile} (0600, key id "${r.keyId}"${r.keyGenerated ? ', new' : ', existing key kept'})`],
      ['databases', r.databases.length ? r.databases.join(', ') : '(none yet: add them to the config, or run `backupctl demo`)'],
    ]),
    '',
    `IMPORTANT: keep an offline copy of ${r.keyFile} somewhere other than this machine and its backups`,
    '(a password manager, or a USB stick in a safe). Encrypted backups cannot be restored without it;',
    'anyone who has it and a backup can read your finances.',
  ].join('\n');
}
