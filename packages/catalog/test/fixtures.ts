/** Shared by the catalog tests: well-formed manifests without a real backup behind them, a catalog per test. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Manifest } from '@mfb/backup';
import { openCatalog, openPostgresCatalog, type Catalog } from '../src/index.js';

let seq = 0;

/** A well-formed v1 manifest (passes the engine's manifestProblems); ids unique per process. */
export function fakeManifest(databaseId: string, createdAt: Date, opts: { size?: number } = {}): Manifest {
  const iso = createdAt.toISOString();
  const stamp = iso.slice(0, 19).replace(/[-:]/g, '') + iso.slice(20, 23) + 'Z';
  const backupId = `${stamp}-${(seq++).toString(16).padStart(8, '0')}`;
  const h = (s: string): string => createHash('sha256').update(s).digest('hex');
  return {
    formatVersion: 1,
    backupId,
    databaseId,
    createdAt: iso,
    artifactKey: `${databaseId}/${backupId}.sqlite.gz`,
    artifact: { sizeBytes: opts.size ?? 1000, sha256: h('a' + backupId) },
    snapshot: {
      sizeBytes: 4096,
      sha256: h('s' + backupId),
      method: 'vacuum-into',
      sqlite: { pageSize: 4096, pageCount: 1, userVersion: 0, journalMode: 'wal' },
    },
    compression: { algorithm: 'gzip', level: 6 },
    encryption: null,
    tool: { name: 'myfinance-backup', version: '0.1.0' },
  };
}

/** A catalog for one test: SQLite in a fresh directory, or PostgreSQL in a fresh schema of `pgUrl`. */
export interface TestCatalog {
  cat: Catalog;
  /** The test's scratch directory (holds the SQLite file). */
  dir: string;
  /** Another catalog on the same store (a second process or host). */
  openAnother(): Promise<Catalog>;
  /** Close `current` (default: the first catalog), drop the schema, remove the directory. */
  dispose(current?: Catalog): Promise<void>;
}

export async function openTestCatalog(pgUrl: string | undefined, opts: { sqliteFile?: string } = {}): Promise<TestCatalog> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mfb-catalog-test-'));
  const schema = pgUrl ? `t_${randomBytes(6).toString('hex')}` : undefined;
  const open = (): Promise<Catalog> => (pgUrl ? openPostgresCatalog(pgUrl, { schema: schema! }) : openCatalog(path.join(dir, opts.sqliteFile ?? 'catalog.db')));
  const cat = await open();
  return {
    cat,
    dir,
    openAnother: open,
    async dispose(current = cat) {
      await current.close();
      if (pgUrl && schema) {
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
