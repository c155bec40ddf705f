import { mkdir } from 'node:fs/promises';
import { reclaimStaleScratch } from '@mfb/backup';
import type { Catalog } from '@mfb/catalog';
import { loadConfig, type Config, type DatabaseConfig } from '@mfb/config';
import { createStorages, databaseFor, openCheckedCatalog, type Storages } from '@mfb/runtime';
import type { StorageDriver } from '@mfb/storage';
import { bytes } from './format.js';
import type { Output } from './output.js';
import type { ProgressReporter } from './progress.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  debug?: boolean;
  quiet?: boolean;
  progress?: boolean;
}

/**
 * What a command needs, opened lazily: most commands need the config, some the catalog, and
 * the disaster-recovery paths (`restore --from-dir`, an artifact path) need neither.
 */
export class Context {
  private configP: Promise<Config> | undefined;
  private catalogP: Promise<Catalog> | undefined;
  private storagesV: Storages | undefined;

  constructor(
    readonly opts: GlobalOptions,
    readonly out: Output,
    readonly progress: ProgressReporter,
  ) {}

  config(): Promise<Config> {
    this.configP ??= Promise.resolve(loadConfig(this.opts.config !== undefined ? { file: this.opts.config } : {}));
    return this.configP;
  }

  /**
   * The catalog, migrated (migrations run at start-up of every command that uses it), after
   * refusing a config that removed a key live backups still need (KEY_STILL_IN_USE).
   */
  catalog(): Promise<Catalog> {
    this.catalogP ??= this.config().then(openCheckedCatalog);
    return this.catalogP;
  }

  /** Storage of a configured target (`local`, the default, is `storageUrl`). @throws TARGET_NOT_FOUND */
  async storage(target = 'local'): Promise<StorageDriver> {
    this.storagesV ??= createStorages(await this.config(), { listKnown: true });
    return this.storagesV.storageFor(target);
  }

  /** @throws INVALID_ID for a malformed id, DATABASE_NOT_FOUND for one not in the config. */
  async database(id: string): Promise<DatabaseConfig> {
    return databaseFor(await this.config(), id, { listKnown: true });
  }

  async close(): Promise<void> {
    this.progress.done();
    if (this.catalogP) {
      const c = await this.catalogP.catch(() => null);
      await c?.close();
    }
  }
}

/**
 * Create missing directories 0700. Existing directories keep their mode: the operator may
 * have chosen it (a shared mount), and tightening someone's directory behind their back is
 * worse than a note in the docs.
 */
export async function ensurePrivateDirs(dirs: string[]): Promise<void> {
  for (const d of dirs) await mkdir(d, { recursive: true, mode: 0o700 });
}

/**
 * The scratch directory, created 0700 if missing, with what killed runs (any database, any
 * earlier process: SIGKILL, a crash, a reboot) left there reclaimed first. Files of a live
 * backup in another process are never touched (owners are in the scratch names, see the
 * engine's `reclaimStaleScratch`).
 */
export async function prepareScratchDir(ctx: Context, dir: string): Promise<void> {
  await ensurePrivateDirs([dir]);
  const r = await reclaimStaleScratch(dir);
  if (r.files > 0) ctx.out.note(`note: removed ${r.files} scratch file(s) (${bytes(r.bytes)}) left in ${dir} by killed runs`);
  for (const f of r.failed) ctx.out.note(`warning: cannot remove a scratch file left by a killed run: ${f}`);
}
