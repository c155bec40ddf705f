/**
 * Defect 2: `backupctl backup` and `restore --replace` take the per-database lock the workers
 * take (Redis when reachable, plus the local lock file in the scratch dir), wait for it a
 * bounded time, fail with CLI_DATABASE_LOCKED (exit 8), and `--force` proceeds explicitly.
 * Real processes, a real Redis (unique prefix), real files.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { tryLocalLock } from '@mfb/backup';
import { generateFinanceDb } from '@mfb/demo-data';
import { DatabaseLocks } from '@mfb/jobs';
import { runProcess, distNode, type ProcessRun } from '@mfb/testkit';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const main = join(repo, 'apps/cli/src/main.ts');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NO_REDIS = 'redis://127.0.0.1:1';

let fixtures: string;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => {
  fixtures = mkdtempSync(join(tmpdir(), 'cli-lock-fx-'));
  await generateFinanceDb(join(fixtures, 'small.db'), { sizeBytes: 256 * 1024, seed: 3, journalMode: 'wal' });
  await generateFinanceDb(join(fixtures, 'big.db'), { sizeBytes: 24 * 1024 * 1024, seed: 4, journalMode: 'wal' });
}, 120_000);
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function env(dir: string, redisUrl: string, prefix: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: dir, REDIS_URL: redisUrl, MFB_REDIS_PREFIX: prefix };
}

function cli(args: string[], dir: string, e: NodeJS.ProcessEnv): Promise<ProcessRun> {
  const c = distNode(main, args);
  return runProcess(c.command, c.args, { cwd: dir, env: e });
}

function errorCode(r: ProcessRun): string | undefined {
  return (JSON.parse(r.stdout) as { error?: { code?: string } }).error?.code;
}

async function setUp(fixture: 'small.db' | 'big.db', redisUrl: string): Promise<{ dir: string; db: string; e: NodeJS.ProcessEnv; prefix: string; tmp: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cli-lock-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'live', 'finance.db');
  mkdirSync(dirname(db), { recursive: true });
  copyFileSync(join(fixtures, fixture), db);
  const prefix = `t-${randomUUID().slice(0, 8)}`;
  const e = env(dir, redisUrl, prefix);
  const r = await cli(['init', '--json', '--database', `fin=${db}`], dir, e);
  expect(r.code, r.stderr).toBe(0);
  return { dir, db, e, prefix, tmp: join(dir, 'data', 'tmp') };
}

function redisLocks(prefix: string): DatabaseLocks {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  cleanups.push(() => redis.quit());
  return new DatabaseLocks(redis, prefix, 30_000);
}

describe('backupctl takes the per-database lock', () => {
  it('with Redis: waits for a worker holding the lock, fails with exit 8, --force proceeds; restore --replace too', async () => {
    const { dir, db, e, prefix } = await setUp('small.db', REDIS_URL);
    const locks = redisLocks(prefix);
    const worker = await locks.tryAcquire('fin');
    expect(worker).not.toBeNull();
    cleanups.push(() => worker!.release());

    const blocked = await cli(['backup', 'fin', '--json', '--lock-wait', '0'], dir, e);
    expect(blocked.code, blocked.stderr).toBe(8);
    expect(errorCode(blocked)).toBe('CLI_DATABASE_LOCKED');
    expect(blocked.stderr).toMatch(/--force/);
    const none = await cli(['list', 'fin', '--json'], dir, e);
    expect(JSON.parse(none.stdout)).toMatchObject({ items: [] });

    const forced = await cli(['backup', 'fin', '--json', '--force'], dir, e);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/--force: proceeding without the lock of database fin/);
    const backupId = (JSON.parse(forced.stdout) as { backupId: string }).backupId;

    const restoreBlocked = await cli(['restore', backupId, '--to', db, '--replace', '--json', '--lock-wait', '0'], dir, e);
    expect(restoreBlocked.code, restoreBlocked.stderr).toBe(8);
    expect(errorCode(restoreBlocked)).toBe('CLI_DATABASE_LOCKED');
    expect(existsSync(join(dirname(db), '.pre-restore'))).toBe(false);
    // A restore to a new file is not a database a worker touches: no lock needed.
    const fresh = await cli(['restore', backupId, '--to', join(dir, 'copy.db'), '--json'], dir, e);
    expect(fresh.code, fresh.stderr).toBe(0);

    // The worker finishes while the CLI waits: the CLI proceeds.
    const c = distNode(main, ['backup', 'fin', '--json', '--lock-wait', '120']);
    const child = spawn(c.command, c.args, { cwd: dir, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'close');
    while (!stderr.includes('waiting for the lock of database fin')) {
      expect(child.exitCode, stderr).toBeNull();
      await sleep(20);
    }
    await worker!.release();
    const [code] = await exited;
    expect(code, stderr).toBe(0);
    // ... and released it: the key is free again.
    expect(await locks.owner('fin')).toBeNull();
    const replaced = await cli(['restore', backupId, '--to', db, '--replace', '--json'], dir, e);
    expect(replaced.code, replaced.stderr).toBe(0);
  }, 120_000);

  it('with Redis: a running backupctl backup holds the Redis lock a worker would take', async () => {
    const { dir, e, prefix } = await setUp('big.db', REDIS_URL);
    const locks = redisLocks(prefix);
    const c = distNode(main, ['backup', 'fin', '--json']);
    const child = spawn(c.command, c.args, { cwd: dir, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'close');
    let seenHeld = false;
    while (child.exitCode === null && !seenHeld) {
      if ((await locks.owner('fin')) !== null) seenHeld = (await locks.tryAcquire('fin')) === null;
      else await sleep(10);
    }
    const [code] = await exited;
    expect(code, stderr).toBe(0);
    expect(seenHeld, 'the Redis lock was never seen held during the CLI backup').toBe(true);
    expect(await locks.owner('fin')).toBeNull();
  }, 120_000);

  it('without Redis: the local lock file (pid + host) excludes a second run, a dead owner is taken over', async () => {
    const { dir, e, tmp } = await setUp('small.db', NO_REDIS);
    const held = await tryLocalLock(tmp, 'fin', 'test holder');
    if (!('lock' in held)) throw new Error('could not take the local lock');
    const blocked = await cli(['backup', 'fin', '--json', '--lock-wait', '0'], dir, e);
    expect(blocked.code, blocked.stderr).toBe(8);
    expect(errorCode(blocked)).toBe('CLI_DATABASE_LOCKED');
    expect(blocked.stdout).toContain(`pid ${process.pid}`);
    const lockFile = held.lock.path;
    const content = readFileSync(lockFile, 'utf8');
    await held.lock.release();
    expect(existsSync(lockFile)).toBe(false);

    // A lock file left by a killed run: an owner whose process is gone.
    const dead = spawn('true');
    await once(dead, 'close');
    const stale = JSON.parse(content) as { owner: string; pid: number };
    stale.owner = stale.owner.replace(/-(\d+)-(\d+)$/, `-${dead.pid}-$2`);
    stale.pid = dead.pid!;
    writeFileSync(lockFile, JSON.stringify(stale));
    const ok = await cli(['backup', 'fin', '--json', '--lock-wait', '0'], dir, e);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(lockFile), 'the CLI removes its lock file when done').toBe(false);
  }, 120_000);

  it('restore --replace of a database the application keeps locked: RESTORE_TARGET_BUSY naming --busy-timeout (exit 6)', async () => {
    const { dir, db, e } = await setUp('small.db', NO_REDIS);
    const b = await cli(['backup', 'fin', '--json'], dir, e);
    expect(b.code, b.stderr).toBe(0);
    const backupId = (JSON.parse(b.stdout) as { backupId: string }).backupId;
    const app = new Database(db);
    try {
      app.exec('BEGIN EXCLUSIVE');
      const r = await cli(['restore', backupId, '--to', db, '--replace', '--busy-timeout', '0.2', '--json'], dir, e);
      expect(r.code, r.stderr).toBe(6);
      expect(errorCode(r)).toBe('RESTORE_TARGET_BUSY');
      expect(r.stdout).toContain('--busy-timeout');
    } finally {
      app.exec('ROLLBACK');
      app.close();
    }
  }, 120_000);
});
