import { copyFileSync, existsSync, mkdirSync, readdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { generateFinanceDb, summarizeFinanceDb } from '@mfb/demo-data';
import { randomUUID } from 'node:crypto';
import { openCatalog } from '@mfb/catalog';
import { tryDatabaseLock } from '@mfb/runtime';
import { distNode, freePort, runProcess, type ProcessRun } from '@mfb/testkit';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const main = join(repo, 'apps/cli/src/main.ts');

type Run = ProcessRun;

/** Run the CLI as a real process (compiled, `distNode`), in `cwd`, with a clean environment (no MFB_* leaking in). */
function cli(args: string[], cwd: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: cwd, TMPDIR: join(cwd, 'os-tmp') };
  mkdirSync(join(cwd, 'os-tmp'), { recursive: true });
  const c = distNode(main, args);
  return runProcess(c.command, c.args, { cwd, env });
}

function json<T = Record<string, unknown>>(r: Run): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

const mode = (p: string) => statSync(p).mode & 0o777;

let fixtures: string;
let sourceDb: string;
beforeAll(async () => {
  fixtures = mkdtempSync(join(tmpdir(), 'cli-fixtures-'));
  sourceDb = join(fixtures, 'finance.db');
  await generateFinanceDb(sourceDb, { sizeBytes: 1024 * 1024, seed: 5, journalMode: 'wal' });
});
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** init with one database `fin` (a copy of the fixture) and return the parsed init result. */
async function setUp(): Promise<{ db: string; init: { configPath: string; keyFile: string; dataDir: string; storageUrl: string; catalogPath: string; directories: string[] } }> {
  const db = join(dir, 'live', 'finance.db');
  mkdirSync(dirname(db), { recursive: true });
  copyFileSync(sourceDb, db);
  const r = await cli(['init', '--json', '--database', `fin=${db}`], dir);
  expect(r.code, r.stderr).toBe(0);
  return { db, init: json(r) };
}

describe('backupctl init', () => {
  it('writes a commented config, a 0600 key file, 0700 directories and a migrated catalog', async () => {
    const { init } = await setUp();
    const config = readFileSync(init.configPath, 'utf8');
    expect(config).toMatch(/^\s*#/m);
    expect(mode(init.keyFile)).toBe(0o600);
    expect(readFileSync(init.keyFile).length).toBeGreaterThan(0);
    for (const d of init.directories) expect(mode(d), d).toBe(0o700);
    expect(mode(init.dataDir)).toBe(0o700);
    expect(existsSync(init.catalogPath)).toBe(true);
    // The key never reaches the output.
    const key = readFileSync(init.keyFile, 'utf8').trim();
    const again = await cli(['init'], dir);
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/^error\[CLI_CONFIG_EXISTS\]: /);
    expect(again.stdout + again.stderr).not.toContain(key);
  });
});

describe('backupctl round trip', () => {
  it('backup -> list -> verify -> inspect -> restore gives back the same rows', async () => {
    const { db } = await setUp();
    const b = await cli(['backup', 'fin', '--json'], dir);
    expect(b.code, b.stderr).toBe(0);
    const backup = json<{ backupId: string; artifactKey: string; encrypted: boolean }>(b);
    expect(backup.backupId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/);

    const l = await cli(['list', '--json'], dir);
    expect(l.code, l.stderr).toBe(0);
    expect(json<{ items: Array<{ backupId: string }> }>(l).items.map((i) => i.backupId)).toContain(backup.backupId);

    const human = await cli(['list', 'fin'], dir);
    expect(human.stdout).toContain(backup.backupId);

    const v = await cli(['verify', backup.backupId, '--json'], dir);
    expect(v.code, v.stderr).toBe(0);
    expect(json<{ integrity: string }>(v).integrity).toBe('ok');

    const i = await cli(['inspect', backup.backupId, '--json'], dir);
    expect(i.code, i.stderr).toBe(0);
    const ins = json<{ manifest: { backupId: string; databaseId: string }; sizeMatchesManifest: boolean }>(i);
    expect(ins.manifest.backupId).toBe(backup.backupId);
    expect(ins.manifest.databaseId).toBe('fin');
    expect(ins.sizeMatchesManifest).toBe(true);

    const to = join(dir, 'restored', 'finance.db');
    const r = await cli(['restore', backup.backupId, '--to', to], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('restored to');
    expect(summarizeFinanceDb(to)).toEqual(summarizeFinanceDb(db));

    // A second restore to the same path is refused: the target exists.
    const again = await cli(['restore', backup.backupId, '--to', to, '--json'], dir);
    expect(again.code).toBe(6);
    expect(json<{ error: { code: string } }>(again).error.code).toBe('RESTORE_TARGET_EXISTS');
  });

  it('restores from the artifact files alone: no config, no catalog, only the key file', async () => {
    const { db, init } = await setUp();
    const b = await cli(['backup', 'fin', '--json'], dir);
    expect(b.code, b.stderr).toBe(0);
    const backup = json<{ artifactKey: string; encrypted: boolean }>(b);
    const root = init.storageUrl.startsWith('file://') ? fileURLToPath(init.storageUrl) : init.storageUrl;
    const artifact = join(root, backup.artifactKey);

    // A fresh machine: a flat directory with the two files and the key, nothing else.
    const rescue = mkdtempSync(join(dir, 'rescue-'));
    copyFileSync(artifact, join(rescue, basename(artifact)));
    copyFileSync(artifact + '.manifest.json', join(rescue, basename(artifact) + '.manifest.json'));
    copyFileSync(init.keyFile, join(rescue, 'offline-copy.key'));
    const keyArgs = backup.encrypted ? ['--key-file', join(rescue, 'offline-copy.key')] : [];

    const ins = await cli(['inspect', join(rescue, basename(artifact))], rescue);
    expect(ins.code, ins.stderr).toBe(0);

    const v = await cli(['verify', join(rescue, basename(artifact)), ...keyArgs], rescue);
    expect(v.code, v.stderr).toBe(0);

    const to = join(rescue, 'recovered.db');
    const r = await cli(['restore', join(rescue, basename(artifact)), ...keyArgs, '--to', to, '--json'], rescue);
    expect(r.code, r.stderr).toBe(0);
    expect(summarizeFinanceDb(to)).toEqual(summarizeFinanceDb(db));

    // --from-dir with the storage tree and a backup id works the same.
    const to2 = join(rescue, 'recovered2.db');
    const id = basename(artifact).split('.')[0]!;
    const r2 = await cli(['restore', id, '--from-dir', root, ...keyArgs, '--to', to2], rescue);
    expect(r2.code, r2.stderr).toBe(0);
    expect(summarizeFinanceDb(to2)).toEqual(summarizeFinanceDb(db));
  });
});

describe('backupctl prune --dry-run and usage', () => {
  it('prints the plan (table and --json) from the catalog, deletes nothing, and sums storage per target', async () => {
    const { init } = await setUp();
    // the database's policy: keep only the newest (and whatever is pinned)
    writeFileSync(init.configPath, readFileSync(init.configPath, 'utf8').replaceAll(/keepLast: 7 /g, 'keepLast: 1 '));
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const b = await cli(['backup', 'fin', '--json', '-c', init.configPath], dir);
      expect(b.code, b.stderr).toBe(0);
      ids.unshift(json<{ backupId: string }>(b).backupId);
    }
    const planned = await cli(['prune', 'fin', '--dry-run', '--json', '-c', init.configPath], dir);
    expect(planned.code, planned.stderr).toBe(0);
    const plan = json<{ target: string; policy: unknown; items: Array<{ backupId: string; action: string; reasons: string[]; sizeBytes: number }>; totals: Record<string, number> }>(planned);
    expect(plan.target).toBe('local');
    expect(plan.policy).toEqual({ keepLast: 1 });
    expect(plan.items.map((i) => [i.backupId, i.action, i.reasons])).toEqual([
      [ids[0], 'keep', ['newest', 'keepLast 1']],
      [ids[1], 'delete', ['not kept by any rule']],
    ]);
    expect(plan.totals).toMatchObject({ backups: 2, kept: 1, deleted: 1, deletedBytes: plan.items[1]!.sizeBytes });

    const human = await cli(['prune', 'fin', '--dry-run', '-c', init.configPath], dir);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/BACKUP\s+AGE\s+SIZE\s+PLAN\s+REASONS/);
    expect(human.stdout).toMatch(new RegExp(`${ids[0]}\\s+\\d+s\\s+[\\d.]+ (KiB|MiB)\\s+KEEP\\s+newest; keepLast 1`));
    expect(human.stdout).toMatch(new RegExp(`${ids[1]}\\s+\\S+\\s+[\\d.]+ (KiB|MiB)\\s+DELETE\\s+not kept by any rule`));
    expect(human.stdout).toContain('keep 1 (');

    // nothing was deleted
    const usage = await cli(['usage', '--json', '-c', init.configPath], dir);
    expect(usage.code, usage.stderr).toBe(0);
    const u = json<{ items: Array<{ databaseId: string; target: string; backups: number; bytes: number }>; totals: { backups: number } }>(usage);
    expect(u.items).toEqual([{ databaseId: 'fin', target: 'local', backups: 2, bytes: plan.totals['keptBytes']! + plan.totals['deletedBytes']! }]);
    expect(u.totals.backups).toBe(2);
    const unknown = await cli(['prune', 'fin', '--dry-run', '--target', 'tape', '-c', init.configPath], dir);
    expect(unknown.stderr).toMatch(/TARGET_NOT_FOUND/);
    expect((await cli(['usage', '-c', init.configPath], dir)).stdout).toMatch(/fin\s+local\s+2\s+/);
  });
});

describe('backupctl prune (deleting)', () => {
  it('deletes what the plan says under the per-database lock; refuses without Redis or while a job holds the database', async () => {
    const { init } = await setUp();
    const prefix = `t-${randomUUID()}`;
    const original = readFileSync(init.configPath, 'utf8').replaceAll(/keepLast: 7 /g, 'keepLast: 1 ');
    const withRedis = (url: string): void =>
      writeFileSync(init.configPath, original.replace(/^ {2}url: .*$/m, `  url: ${JSON.stringify(url)}`).replace(/^ {2}prefix: .*$/m, `  prefix: ${prefix}`));
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const b = await cli(['backup', 'fin', '--json', '-c', init.configPath], dir);
      expect(b.code, b.stderr).toBe(0);
      ids.unshift(json<{ backupId: string }>(b).backupId);
    }
    const live = async (): Promise<number> => {
      const catalog = await openCatalog(init.catalogPath);
      try {
        return (await catalog.storageUsage({ databaseId: 'fin' }))[0]!.backups;
      } finally {
        await catalog.close();
      }
    };

    // Redis unreachable: refused without --force, nothing deleted (the dry run needs no Redis)
    const port = await freePort();
    withRedis(`redis://127.0.0.1:${port}`);
    const noRedis = await cli(['prune', 'fin', '-c', init.configPath], dir);
    expect(noRedis.code, noRedis.stderr).toBe(2);
    expect(noRedis.stderr).toMatch(/error\[CLI_USAGE\]: cannot take the per-database lock of fin \(Redis unreachable/);
    expect(await live()).toBe(2);

    // a job holds the database: CLI_DATABASE_LOCKED, nothing deleted
    withRedis(REDIS_URL);
    const lockSettings = { redis: { url: REDIS_URL, prefix, tls: false }, worker: { lockTtlMs: 30_000 } } as Parameters<typeof tryDatabaseLock>[0];
    const job = await tryDatabaseLock(lockSettings, 'fin');
    try {
      expect(job.state).toBe('held');
      const busy = await cli(['prune', 'fin', '--json', '-c', init.configPath], dir);
      expect(busy.code).not.toBe(0);
      expect(json<{ error: { code: string } }>(busy).error.code).toBe('CLI_DATABASE_LOCKED');
      expect(await live()).toBe(2);
    } finally {
      if (job.state === 'held') await job.release();
    }

    // lock free: the plan is carried out, the lock released afterwards
    {
      const real = await cli(['prune', 'fin', '--json', '-c', init.configPath], dir);
      expect(real.code, real.stderr).toBe(0);
      const done = json<{ dryRun: boolean; deleted: string[]; resumed: string[]; items: Array<{ backupId: string; action: string }> }>(real);
      expect(done.dryRun).toBe(false);
      expect(done.deleted).toEqual([ids[1]]);
      expect(done.resumed).toEqual([]);
      expect(await live()).toBe(1);
      const after = await tryDatabaseLock(lockSettings, 'fin');
      expect(after.state, 'the CLI released the lock').toBe('held');
      if (after.state === 'held') await after.release();
      const files = readdirSync(join(init.dataDir, 'backups', 'fin'));
      expect(files.filter((f) => f.startsWith(ids[1]!)), 'the deleted copy is gone from storage').toEqual([]);
      expect(files.filter((f) => f.startsWith(ids[0]!)).length, 'the kept copy is there').toBeGreaterThanOrEqual(2);
      const human = await cli(['prune', 'fin', '-c', init.configPath], dir);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/^deleted:\s+0 \(0 B\)$/m);
    }
  });
});

describe('backupctl exit codes', () => {
  it('7 for a missing source database and for a file that is not SQLite', async () => {
    const { db } = await setUp();
    rmSync(db);
    const missing = await cli(['backup', 'fin', '--json'], dir);
    expect(missing.code).toBe(7);
    expect(json<{ error: { code: string; exitCode: number } }>(missing).error).toMatchObject({ code: 'BACKUP_SOURCE_NOT_FOUND', exitCode: 7 });
    expect(missing.stderr).toMatch(/^error\[BACKUP_SOURCE_NOT_FOUND\]: /m);
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug

    writeFileSync(db, 'this is a spreadsheet, not a database\n'.repeat(200));
    const notSqlite = await cli(['backup', 'fin'], dir);
    expect(notSqlite.code).toBe(7);
    expect(notSqlite.stderr).toMatch(/error\[BACKUP_NOT_SQLITE\]/);
  });

  it('4 for an unknown backup id or database id, 2 for usage errors and malformed ids', async () => {
    await setUp();
    const failsWith = async (args: string[], exit: number, code: string): Promise<void> => {
      const r = await cli([...args, '--json'], dir);
      expect(r.code, args.join(' ')).toBe(exit);
      expect(json<{ error: { code: string } }>(r).error.code, args.join(' ')).toBe(code);
    };
    await failsWith(['verify', '20200101T000000000Z-00000000'], 4, 'BACKUP_NOT_FOUND');
    await failsWith(['backup', 'nope'], 4, 'DATABASE_NOT_FOUND');
    // Malformed, not unknown: its own code and a usage exit status.
    await failsWith(['backup', 'Not/An Id'], 2, 'INVALID_ID');
    await failsWith(['verify', 'yesterday'], 2, 'INVALID_ID');
    await failsWith(['restore', '20200101T000000000Z-00000000'], 2, 'CLI_USAGE');
    const usage = await cli(['backup', 'fin', '--bogus'], dir);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error\[CLI_USAGE\]: /);
  });

  it('5 for a wrong key and for a tampered artifact; nothing is written to the target', async () => {
    const { init } = await setUp();
    const b = await cli(['backup', 'fin', '--json'], dir);
    expect(b.code, b.stderr).toBe(0);
    const backup = json<{ artifactKey: string; encrypted: boolean }>(b);
    const root = init.storageUrl.startsWith('file://') ? fileURLToPath(init.storageUrl) : init.storageUrl;
    const artifact = join(root, backup.artifactKey);
    const rescue = mkdtempSync(join(dir, 'rescue-'));
    const copy = join(rescue, basename(artifact));
    copyFileSync(artifact, copy);
    copyFileSync(artifact + '.manifest.json', copy + '.manifest.json');

    if (backup.encrypted) {
      const wrongKey = join(rescue, 'wrong.key');
      writeFileSync(wrongKey, Buffer.alloc(32, 7).toString('base64') + '\n', { mode: 0o600 });
      const wrong = await cli(['restore', copy, '--key-file', wrongKey, '--to', join(rescue, 'x.db'), '--json'], rescue);
      expect(wrong.code).toBe(5);
      expect(json<{ error: { code: string } }>(wrong).error.code).toMatch(/^BACKUP_(WRONG_KEY|AUTH_FAILED)$/);
      expect(existsSync(join(rescue, 'x.db'))).toBe(false);
    }

    // Flip one byte in the middle of the artifact.
    const size = statSync(copy).size;
    const fd = openSync(copy, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, Math.floor(size / 2));
    writeSync(fd, Buffer.from([byte[0]! ^ 0x20]), 0, 1, Math.floor(size / 2));
    closeSync(fd);
    const keyArgs = backup.encrypted ? ['--key-file', init.keyFile] : [];
    const tampered = await cli(['restore', copy, ...keyArgs, '--to', join(rescue, 'y.db'), '--json'], rescue);
    expect(tampered.code).toBe(5);
    expect(json<{ error: { code: string } }>(tampered).error.code).toMatch(/^BACKUP_(CHECKSUM_MISMATCH|AUTH_FAILED)$/);
    expect(existsSync(join(rescue, 'y.db'))).toBe(false);
    const verify = await cli(['verify', copy, ...keyArgs], rescue);
    expect(verify.code).toBe(5);
  });
});

describe('backupctl restore --replace, catalog rebuild, demo', () => {
  it('--replace puts the backup into the existing database and keeps a safety copy of what was there', async () => {
    const { db } = await setUp();
    const before = summarizeFinanceDb(db);
    const b = await cli(['backup', 'fin', '--json'], dir);
    expect(b.code, b.stderr).toBe(0);
    const { backupId } = json<{ backupId: string }>(b);

    // The live database moves on after the backup.
    const live = new Database(db);
    live.prepare('DELETE FROM splits').run();
    live.close();
    const changed = summarizeFinanceDb(db);
    expect(changed).not.toEqual(before);

    const r = await cli(['restore', backupId, '--to', db, '--replace', '--json'], dir);
    expect(r.code, r.stderr).toBe(0);
    const res = json<{ safetyCopyPath: string; mode: string }>(r);
    expect(res.mode).toBe('replace');
    expect(summarizeFinanceDb(db)).toEqual(before);
    expect(summarizeFinanceDb(res.safetyCopyPath)).toEqual(changed);
  });

  it('catalog rebuild recreates a lost catalog from the manifests in storage', async () => {
    const { init } = await setUp();
    const b = await cli(['backup', 'fin', '--json'], dir);
    expect(b.code, b.stderr).toBe(0);
    const { backupId } = json<{ backupId: string }>(b);
    for (const f of [init.catalogPath, `${init.catalogPath}-wal`, `${init.catalogPath}-shm`]) rmSync(f, { force: true });

    const empty = await cli(['list', '--json'], dir);
    expect(json<{ items: unknown[] }>(empty).items).toHaveLength(0);
    const rb = await cli(['catalog', 'rebuild', '--json'], dir);
    expect(rb.code, rb.stderr).toBe(0);
    expect(json<{ added: number; scanned: number }>(rb)).toMatchObject({ added: 1, scanned: 1 });
    const l = await cli(['list', '--json'], dir);
    expect(json<{ items: Array<{ backupId: string }> }>(l).items.map((i) => i.backupId)).toEqual([backupId]);
  });

  it('demo generates the demo database on the embedded defaults, backs it up and verifies it', async () => {
    const r = await cli(['demo', '--size-mib', '1', '--json'], dir);
    expect(r.code, r.stderr).toBe(0);
    const res = json<{ generated: { path: string }; backup: { databaseId: string }; verify: { integrity: string } }>(r);
    expect(res.generated.path).toBe(join(dir, 'data', 'demo', 'finance.db'));
    expect(res.backup.databaseId).toBe('demo');
    expect(res.verify.integrity).toBe('ok');
    expect(mode(join(dir, 'data'))).toBe(0o700);
    // A second run reuses the database.
    const again = await cli(['demo', '--json'], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(json<{ generated: unknown }>(again).generated).toBeNull();
  });
});

describe('backupctl restore into a locked database', () => {
  it('exits 6 (RESTORE_TARGET_BUSY) and leaves the live database as it was', async () => {
    const { db } = await setUp();
    const b = await cli(['backup', 'fin', '--json'], dir);
    expect(b.code, b.stderr).toBe(0);
    const { backupId } = json<{ backupId: string }>(b);
    const before = summarizeFinanceDb(db);
    // Another connection (the dashboard) holds a write lock for the whole restore attempt.
    const app = new Database(db);
    app.exec('BEGIN EXCLUSIVE');
    try {
      const r = await cli(['restore', backupId, '--to', db, '--replace', '--busy-timeout', '1', '--json'], dir);
      expect(r.code, r.stderr).toBe(6);
      expect(json<{ error: { code: string } }>(r).error.code).toBe('RESTORE_TARGET_BUSY');
    } finally {
      app.exec('ROLLBACK');
      app.close();
    }
    expect(summarizeFinanceDb(db)).toEqual(before);
  });
});
