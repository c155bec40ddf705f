import { mkdir } from 'node:fs/promises';
import { openCatalog, type Catalog } from '@mfb/catalog';
import { loadConfig, type Config, type DatabaseConfig } from '@mfb/config';
import { openStorage, type StorageDriver } from '@mfb/storage';
import { UnknownDatabaseError } from './errors.js';
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
  private storageV: StorageDriver | undefined;

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
    this.catalogP ??= (async () => {
      const cfg = await this.config();
      await ensurePrivateDirs([cfg.dataDir]);
      const catalog = await openCatalog(cfg.catalogPath);
      await catalog.migrate();
      return catalog;
    })();
    return this.catalogP;
  }

  /** Primary storage (`storageUrl` from the config). */
  async storage(): Promise<StorageDriver> {
    if (!this.storageV) {
      const cfg = await this.config();
      this.storageV = openStorage(cfg.storageUrl);
    }
    return this.storageV;
  }

  async database(id: string): Promise<DatabaseConfig> {
    const cfg = await this.config();
    const db = cfg.databases.find((d) => d.id === id);
    if (!db) throw new UnknownDatabaseError(id, cfg.databases.map((d) => d.id));
    return db;
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
