/**
 * `backupctl catalog migrate`: the embedded SQLite catalog moved to PostgreSQL (the machine's
 * server, started when down), after which the same CLI, pointed at PostgreSQL by
 * MFB_CATALOG_URL, lists the same backups.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { distNode, ensurePostgres, runProcess } from '@mfb/testkit';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const main = join(repo, 'apps/cli/src/main.ts');

let dir: string;
let pgUrl: string;
const schema = `t_${randomBytes(6).toString('hex')}`;
beforeAll(async () => {
  pgUrl = await ensurePostgres();
  dir = mkdtempSync(join(tmpdir(), 'cli-migrate-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

function cli(args: string[], env: Record<string, string> = {}) {
  mkdirSync(join(dir, 'os-tmp'), { recursive: true });
  const c = distNode(main, args);
  return runProcess(c.command, c.args, { cwd: dir, env: { PATH: process.env.PATH, HOME: dir, TMPDIR: join(dir, 'os-tmp'), ...env } });
}

describe('backupctl catalog migrate', () => {
  it('moves the SQLite catalog to PostgreSQL; the CLI then reads the same backups from there', { timeout: 120_000 }, async () => {
    const src = join(dir, 'fixture.db');
    await generateFinanceDb(src, { sizeBytes: 256 * 1024, seed: 9, journalMode: 'wal' });
    const db = join(dir, 'live', 'finance.db');
    mkdirSync(dirname(db), { recursive: true });
    copyFileSync(src, db);
    const init = await cli(['init', '--json', '--database', `fin=${db}`]);
    expect(init.code, init.stderr).toBe(0);
    const { configPath, catalogPath } = JSON.parse(init.stdout) as { configPath: string; catalogPath: string };
    for (let i = 0; i < 2; i++) expect((await cli(['backup', 'fin', '--config', configPath, '--json'])).code).toBe(0);
    const before = (JSON.parse((await cli(['list', 'fin', '--config', configPath, '--json'])).stdout) as { items: Array<{ backupId: string }> }).items;
    expect(before).toHaveLength(2);

    const to = `${pgUrl}?schema=${schema}`;
    const missing = await cli(['catalog', 'migrate', '--from', `sqlite:${join(dir, 'nope.db')}`, '--to', to]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no catalog at');

    const moved = await cli(['catalog', 'migrate', '--from', `sqlite:${catalogPath}`, '--to', to, '--json']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({ backups: 2, copies: 2, deletedCopies: 0 });
    // Again: idempotent, nothing doubled.
    expect(JSON.parse((await cli(['catalog', 'migrate', '--from', `sqlite:${catalogPath}`, '--to', to, '--json'])).stdout)).toMatchObject({ backups: 2 });

    const after = await cli(['list', 'fin', '--config', configPath, '--json'], { MFB_CATALOG_URL: to });
    expect(after.code, after.stderr).toBe(0);
    expect((JSON.parse(after.stdout) as { items: Array<{ backupId: string }> }).items.map((b) => b.backupId)).toEqual(before.map((b) => b.backupId));
    // And a new backup made on PostgreSQL is listed from there.
    expect((await cli(['backup', 'fin', '--config', configPath, '--json'], { MFB_CATALOG_URL: to })).code).toBe(0);
    expect((JSON.parse((await cli(['list', 'fin', '--config', configPath, '--json'], { MFB_CATALOG_URL: to })).stdout) as { items: unknown[] }).items).toHaveLength(3);
  });
});
