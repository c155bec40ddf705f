/**
 * A `backupctl backup` killed with SIGKILL leaves its scratch snapshot behind; the next run
 * reclaims it, while the scratch of a live backup in another process (paused with SIGSTOP, so
 * its files stay put) is left alone and that backup still completes. Real processes (no Redis:
 * only the local lock, which the concurrent runs override with --force).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { distNode } from '@mfb/testkit';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const main = join(repo, 'apps/cli/src/main.ts');

let dir: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cli-scratch-'));
  // Big enough that a backup spends a while with its snapshot in the scratch dir.
  await generateFinanceDb(join(dir, 'src.db'), { sizeBytes: 24 * 1024 * 1024, seed: 11, journalMode: 'wal' });
}, 120_000);
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  // One node process (the compiled CLI), not the tsx CLI: that one runs the program in a child
  // process, and SIGKILL must reach the process that owns the scratch files.
  const c = distNode(main, args);
  const child = spawn(c.command, c.args, { cwd: dir, env: { PATH: process.env.PATH, HOME: dir, REDIS_URL: 'redis://127.0.0.1:1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, done };
}

const scratch = (tmp: string): string[] => readdirSync(tmp).filter((n) => n.startsWith('.mfb-tmp-'));

/** Wait until a scratch file not in `known` appears; returns the new names. */
async function newScratch(tmp: string, known: string[], child: ChildProcess): Promise<string[]> {
  for (;;) {
    const fresh = scratch(tmp).filter((n) => !known.includes(n));
    if (fresh.length > 0) return fresh;
    if (child.exitCode !== null) throw new Error('the backup finished before its scratch file was seen');
    await sleep(5);
  }
}

describe('scratch files of killed runs', () => {
  it('are reclaimed by the next backup, and a live backup in another process keeps its own', async () => {
    const db = join(dir, 'live', 'finance.db');
    mkdirSync(dirname(db), { recursive: true });
    copyFileSync(join(dir, 'src.db'), db);
    const init = start(['init', '--json', '--database', `fin=${db}`]);
    const inited = await init.done;
    expect(inited.code).toBe(0);
    // The scratch-copy snapshot (the streaming default writes no scratch file): what a backup
    // with `snapshot.method: backup-api` or `vacuum-into`, or without sqlite_dbpage, leaves.
    const { configPath } = JSON.parse(inited.stdout) as { configPath: string };
    const yaml = readFileSync(configPath, 'utf8');
    const withMethod = yaml.replace(/^(\s*)- id: fin\b.*$/m, (line, indent: string) => `${line}\n${indent}  snapshot: { method: backup-api }`);
    expect(withMethod).not.toBe(yaml);
    writeFileSync(configPath, withMethod);
    const tmp = join(dir, 'data', 'tmp');

    // 1. a live backup in another process, held mid-way with its scratch file present.
    const live = start(['backup', 'fin', '--json']);
    const liveFiles = await newScratch(tmp, [], live.child);
    live.child.kill('SIGSTOP');

    // 2. killed mid-backup: its snapshot stays behind. (--force: the paused backup holds the
    // database's lock; this test is about the scratch files of two processes.)
    const killed = start(['backup', 'fin', '--json', '--force']);
    const leaked = await newScratch(tmp, scratch(tmp), killed.child);
    killed.child.kill('SIGKILL');
    await killed.done;
    expect(scratch(tmp)).toEqual(expect.arrayContaining(leaked));

    // 3. the next backup reclaims the dead run's files and leaves the live one's alone.
    const next = await start(['backup', 'fin', '--json', '--force']).done;
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/removed \d+ scratch file\(s\) .* by killed runs/);
    const after = scratch(tmp);
    for (const f of leaked) expect(after).not.toContain(f);
    expect(after).toEqual(expect.arrayContaining(liveFiles.filter((f) => !f.endsWith('-journal'))));

    // 4. the live backup finishes and cleans up after itself.
    live.child.kill('SIGCONT');
    const liveDone = await live.done;
    expect(liveDone.code, liveDone.stderr).toBe(0);
    expect(scratch(tmp)).toEqual([]);
  });
});
