import { mkdir } from 'node:fs/promises';
import type { Catalog } from '@mfb/catalog';
import { loadConfig, type Config, type DatabaseConfig } from '@mfb/config';
import { createStorages, databaseFor, openMigratedCatalog, type Storages } from '@mfb/runtime';
import type { StorageDriver } from '@mfb/storage';
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

  /** The catalog, migrated (migrations run at start-up of every command that uses it). */
  catalog(): Promise<Catalog> {
    this.catalogP ??= this.config().then(openMigratedCatalog);
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
