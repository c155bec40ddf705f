/**
 * Host-bound databases and the CLI: `backupctl backup` of a database whose `host` is another
 * machine (`MFB_HOST` / `worker.host`) is refused with CLI_WRONG_HOST (exit 7): the file at
 * its path here is not that database. `--any-host` backs it up anyway. Real processes, a real
 * Redis (unique prefix), real files.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runProcess, distNode, type ProcessRun } from '@mfb/testkit';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const main = join(repo, 'apps/cli/src/main.ts');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dir = mkdtempSync(join(tmpdir(), 'cli-hosts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function backup(args: string[], host: string): Promise<ProcessRun> {
  const c = distNode(main, ['backup', ...args, '--json']);
  return runProcess(c.command, c.args, { cwd: dir, env: { PATH: process.env.PATH, HOME: dir, MFB_HOST: host } });
}

describe('backupctl backup of a database on another host', () => {
  it('refuses with CLI_WRONG_HOST (exit 7) unless --any-host; on its own host it runs', { timeout: 120_000 }, async () => {
    const db = new Database(join(dir, 'ledger.db'));
    db.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, memo TEXT); INSERT INTO tx (memo) VALUES (\'rent\')');
    db.close();
    writeFileSync(
      join(dir, 'mfb.config.yaml'),
      JSON.stringify({
        dataDir: './data',
        redis: { url: REDIS_URL, prefix: `t-${randomUUID().slice(0, 8)}` },
        databases: [{ id: 'ledger', path: './ledger.db', host: 'db-1' }],
      }),
      { mode: 0o600 },
    );
    const elsewhere = await backup(['ledger'], 'db-2');
    expect(elsewhere.code, elsewhere.stderr).toBe(7);
    const err = (JSON.parse(elsewhere.stdout) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('CLI_WRONG_HOST');
    expect(err.message).toContain('database ledger is on host db-1');
    expect(err.message).toContain('--any-host');

    const forced = await backup(['ledger', '--any-host'], 'db-2');
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    const here = await backup(['ledger'], 'db-1');
    expect(here.code, here.stdout + here.stderr).toBe(0);
    expect((JSON.parse(here.stdout) as { databaseId: string }).databaseId).toBe('ledger');
  });
});
