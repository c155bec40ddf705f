/**
 * Edge cases found by a held-out sweep (issue 11, item 9), each through the real CLI process:
 * `compression: { algorithm: none }` in the config, a group/world-readable `--key-file`, and a
 * source that stays locked past the busy timeout.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { distNode, testConfig } from '@mfb/testkit';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const main = join(repo, 'apps/cli/src/main.ts');

let fixtures: string;
let dir: string;
beforeAll(async () => {
  fixtures = mkdtempSync(join(tmpdir(), 'cli-edge-fixtures-'));
  await generateFinanceDb(join(fixtures, 'finance.db'), { sizeBytes: 512 * 1024, seed: 3, journalMode: 'delete' });
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
beforeEach((t) => {
  dir = mkdtempSync(join(tmpdir(), 'cli-edge-'));
  t.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
});

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string; error?: { code: string; message: string } } {
  const c = distNode(main, args);
  const r = spawnSync(c.command, c.args, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir } });
  let error: { code: string; message: string } | undefined;
  try {
    error = (JSON.parse(r.stdout) as { error?: { code: string; message: string } }).error;
  } catch {
    // not JSON
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ...(error ? { error } : {}) };
}

/** `backupctl init` with one database `fin` (a copy of the fixture; rollback journal), encrypted. */
function init(): { db: string; keyFile: string } {
  const db = join(dir, 'live', 'finance.db');
  mkdirSync(dirname(db), { recursive: true });
  copyFileSync(join(fixtures, 'finance.db'), db);
  const r = cli('init', '--json', '--database', `fin=${db}`);
  expect(r.code, r.stderr).toBe(0);
  return { db, keyFile: (JSON.parse(r.stdout) as { keyFile: string }).keyFile };
}

describe('backupctl edge cases', () => {
  it('a database configured with compression { algorithm: none } backs up (no level needed)', async () => {
    const db = join(dir, 'finance.db');
    copyFileSync(join(fixtures, 'finance.db'), db);
    const { file } = await testConfig({ dir, settings: { databases: [{ id: 'fin', path: db, compression: { algorithm: 'none' } }] } });
    const r = cli('--config', file, 'backup', 'fin', '--json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ compression: { algorithm: 'none', level: null } });
  });

  it('--key-file refuses a key that group or others can read, as the config does', () => {
    const { keyFile } = init();
    const b = cli('backup', 'fin', '--json');
    expect(b.code, b.stderr).toBe(0);
    const { artifactKey } = JSON.parse(b.stdout) as { artifactKey: string };
    const loose = join(dir, 'loose.key');
    copyFileSync(keyFile, loose);
    chmodSync(loose, 0o644);
    const artifact = join(dir, 'data', 'backups', artifactKey);
    const r = cli('verify', artifact, '--key-file', loose, '--json');
    expect(r.code).toBe(3);
    expect(r.error?.code).toBe('CLI_KEY_FILE_INVALID');
    expect(r.error?.message).toMatch(/accessible by group or others \(mode 0644\).*chmod 600/);
    chmodSync(loose, 0o600);
    expect(cli('verify', artifact, '--key-file', loose, '--json').code).toBe(0);
  });

  it('a source locked past the busy timeout says how long it waited and names --busy-timeout', () => {
    const { db } = init();
    const holder = new Database(db);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const r = cli('backup', 'fin', '--busy-timeout', '0.3', '--json');
      expect(r.code).toBe(7);
      expect(r.error?.code).toBe('BACKUP_SOURCE_BUSY');
      expect(r.error?.message).toMatch(/stayed locked for 0\.3 s .*--busy-timeout <seconds>/);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });
});
