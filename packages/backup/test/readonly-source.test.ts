/**
 * Defect 9: a WAL source the tool's user cannot write fails with a source error (not INTERNAL
 * "attempt to write a readonly database"), and a backup run as root leaves no root-owned
 * -wal/-shm files beside the application's database. Needs root (tests run as root) to switch
 * users and to own files as someone else; skipped with a reason otherwise.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runProcess, tsNode } from '@mfb/testkit';
import { takeSnapshot } from '../src/index.js';

const NOBODY = 65534;
const root = process.getuid?.() === 0;
const hasSetpriv = (() => {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!root) console.warn('SKIPPED readonly-source tests: they need root (to own files as another user and to run as one)');

let dir: string;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function walDb(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a'), ('b');");
  db.close(); // last connection: -wal and -shm are removed
}

describe.skipIf(!root)('WAL sources the user cannot write', () => {
  it.skipIf(!hasSetpriv)('a WAL database in a directory the user cannot write: BACKUP_SOURCE_UNREADABLE naming the -wal/-shm files', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfb-ro-src-'));
    await chmod(dir, 0o755);
    const srcDir = join(dir, 'app');
    await mkdir(srcDir, { mode: 0o755 });
    walDb(join(srcDir, 'finance.db'));
    await chmod(join(srcDir, 'finance.db'), 0o644);
    const out = join(dir, 'out');
    await mkdir(out, { mode: 0o777 });
    await chmod(out, 0o777);
    const c = tsNode(resolve(import.meta.dirname, 'fixtures/snapshot-as.ts'), [join(srcDir, 'finance.db'), join(out, 'snap.sqlite')]);
    const r = await runProcess('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', c.command, ...c.args], {
      cwd: out,
      env: { PATH: process.env.PATH, HOME: out, TMPDIR: out },
    });
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; code: string | null; message: string };
    expect(res.ok, r.stderr).toBe(false);
    expect(res.code).toBe('BACKUP_SOURCE_UNREADABLE');
    expect(res.message).toMatch(/-wal and -shm/);
    expect(await readdir(srcDir)).toEqual(['finance.db']);
  }, 60_000);

  it('a backup run as root of a read-only (immutable) WAL database owned by another user leaves no -wal/-shm beside it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfb-ro-src-'));
    const srcDir = join(dir, 'app');
    await mkdir(srcDir);
    const src = join(srcDir, 'finance.db');
    walDb(src);
    await chown(srcDir, NOBODY, NOBODY);
    await chown(src, NOBODY, NOBODY);
    // Read-only even for root: the file is immutable (SQLite then cannot remove the sidecars
    // it created to read it).
    try {
      execFileSync('chattr', ['+i', src], { stdio: 'ignore' });
    } catch {
      console.warn('SKIPPED immutable-source check: chattr +i is not supported here');
      return;
    }
    try {
      await takeSnapshot({ sourcePath: src, destPath: join(dir, 'snap.sqlite') });
    } finally {
      execFileSync('chattr', ['-i', src]);
    }
    // Nothing left beside it that this run created, root-owned or not.
    expect(await readdir(srcDir)).toEqual(['finance.db']);
    expect((await stat(src)).uid).toBe(NOBODY);
  });
});
