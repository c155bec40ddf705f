/**
 * The catalog conformance suite (catalog.test.ts) on the PostgreSQL catalog, against the
 * machine's PostgreSQL (started when it is down), each test in its own schema; plus what only
 * PostgreSQL has: migrations under concurrent start-up, schemas, and errors that name the
 * server without its credentials.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PG_SCHEMA_VERSION, openPostgresCatalog, type PostgresCatalog } from '../src/index.js';
import { ensurePostgres } from '@mfb/testkit';

const url = await ensurePostgres();
process.env.MFB_TEST_CATALOG_URL = url;
await import('./catalog.test.js');

const schemas: string[] = [];
afterAll(async () => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await c.end();
});
const fresh = (): string => {
  const s = `t_${randomBytes(6).toString('hex')}`;
  schemas.push(s);
  return s;
};

describe('PostgreSQL catalog', () => {
  it('processes starting together migrate a fresh schema exactly once', async () => {
    const schema = fresh();
    const cats = await Promise.all(Array.from({ length: 4 }, () => openPostgresCatalog(url, { schema })));
    try {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const rows = (await c.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)).rows as Array<{ version: number }>;
      await c.end();
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1));
      expect(await cats[0]!.schemaVersion()).toBe(PG_SCHEMA_VERSION);
    } finally {
      await Promise.all(cats.map((c) => c.close()));
    }
  });

  it('refuses a schema written by a newer version', async () => {
    const schema = fresh();
    const c1: PostgresCatalog = await openPostgresCatalog(url, { schema });
    await c1.close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`INSERT INTO ${schema}.schema_migrations VALUES (999, 'future', now()::text)`);
    await c.end();
    await expect(openPostgresCatalog(url, { schema })).rejects.toMatchObject({ code: 'CATALOG_SCHEMA_TOO_NEW' });
  });

  it('an unreachable server is a transient CATALOG_IO error that does not show the password', async () => {
    const err = await openPostgresCatalog('postgres://mfb:hunter2@127.0.0.1:1/test', { schema: fresh() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CATALOG_IO', permanent: false });
    expect(String((err as Error).message)).not.toContain('hunter2');
    expect(String((err as Error).message)).toContain('127.0.0.1:1');
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(openPostgresCatalog(url, { schema: 'x; DROP TABLE y' })).rejects.toMatchObject({ code: 'CATALOG_INVALID_RECORD' });
  });
});
