/**
 * Defect 10: the disaster-recovery runbook of docs/operations.md ("New machine: only the
 * backup folder and the key"), followed literally. The commands are the fenced blocks tagged
 * `sh dr` (and the line of the `sh dr-install` block that puts backupctl on the PATH), extracted from the
 * markdown and run by bash as written; the test only sets the two paths of the first block.
 * The "old machine" makes real encrypted backups with the compiled CLI; the "new machine" has
 * only a copy of the backup folder and of the key: no config, no catalog, no Redis.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFinanceDb, summarizeFinanceDb } from '@mfb/demo-data';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = join(repo, 'apps/cli/bin/backupctl.js');
const runbook = readFileSync(join(repo, 'docs/operations.md'), 'utf8');

/** The fenced blocks tagged exactly `sh <tag>`, in document order. */
function blocks(tag: string): string[] {
  return [...runbook.matchAll(/^```sh ([\w-]+)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === tag).map((m) => m[2]!);
}

let dir: string;
beforeAll(() => {
  // Incremental: a no-op when scripts/test has just built. The runbook runs the compiled CLI.
  execFileSync(join(repo, 'node_modules/.bin/tsc'), ['-b', join(repo, 'apps/cli/tsconfig.build.json')], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'cli-dr-'));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (home: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: home, TMPDIR: join(dir, 'tmp'), REDIS_URL: 'redis://127.0.0.1:1' });

function cli(args: string[], cwd: string) {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: env(cwd) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('disaster recovery runbook (docs/operations.md), followed literally', () => {
  it('restores the newest backup on a new machine from the copied folder and key alone', async () => {
    // The old machine: a configured database, encrypted backups, then the data changes.
    const old = join(dir, 'old');
    mkdirSync(old);
    const db = join(old, 'finance.db');
    await generateFinanceDb(db, { sizeBytes: 512 * 1024, seed: 7, journalMode: 'wal' });
    const init = cli(['init', '--json', '--database', `finance=${db}`], old);
    expect(init.code, init.stderr).toBe(0);
    const { keyFile, dataDir } = JSON.parse(init.stdout) as { keyFile: string; dataDir: string };
    expect(cli(['backup', 'finance', '--json'], old).code).toBe(0);
    const w = new Database(db);
    w.exec("INSERT INTO institutions (name, bic) VALUES ('Newest Bank', 'NEWBDEFFXXX')");
    w.close();
    const newest = cli(['backup', 'finance', '--json'], old);
    expect(newest.code, newest.stderr).toBe(0);
    const expected = summarizeFinanceDb(db);

    // What survives: a copy of the backup folder and of the key (copied with a loose mode).
    const usb = join(dir, 'usb');
    cpSync(join(dataDir, 'backups'), join(usb, 'mfb-backups'), { recursive: true });
    copyFileSync(keyFile, join(usb, 'primary.key'));
    chmodSync(join(usb, 'primary.key'), 0o644);
    rmSync(old, { recursive: true, force: true });

    // The new machine: the runbook's commands as written.
    const install = blocks('dr-install');
    expect(install).toHaveLength(1);
    const define = install[0]!.split('\n').find((l) => l.startsWith('export PATH='));
    expect(define, 'the install block puts backupctl on the PATH').toBeDefined();
    const steps = blocks('dr');
    expect(steps.length).toBeGreaterThanOrEqual(2);
    let script = steps.join('\n');
    const paths = /^export BACKUPS=\S+ KEY=\S+ +# where your copies are$/m;
    expect(script).toMatch(paths);
    script = script.replace(paths, `export BACKUPS=${join(usb, 'mfb-backups')} KEY=${join(usb, 'primary.key')}`);
    const home = join(dir, 'home');
    mkdirSync(home);
    const full = ['set -euo pipefail', `cd ${repo}`, define!, `cd ${home}`, script, 'echo "RESTORED=$PWD/finance.db"'].join('\n');
    const r = spawnSync('bash', ['-c', full], { cwd: home, encoding: 'utf8', env: env(home) });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const restored = /^RESTORED=(.+)$/m.exec(r.stdout)?.[1];
    expect(restored).toBeDefined();
    expect(existsSync(restored!)).toBe(true);
    expect(summarizeFinanceDb(restored!)).toEqual(expected);
    // Nothing was created outside the runbook's working directory.
    expect(readdirSync(home)).toEqual([]);
  }, 300_000);

  it('a rebuild that finds no manifest fails loudly and creates nothing; read-only commands create no ./data', () => {
    const fresh = join(dir, 'fresh');
    mkdirSync(join(fresh, 'empty'), { recursive: true });
    const rb = cli(['catalog', 'rebuild', '--from-dir', join(fresh, 'empty'), '--json'], fresh);
    expect(rb.code).toBe(4);
    expect((JSON.parse(rb.stdout) as { error: { code: string } }).error.code).toBe('CLI_REBUILD_NOTHING_FOUND');
    expect(rb.stderr).toMatch(/no backup manifest/);
    for (const args of [['list'], ['list', '--json'], ['usage']]) {
      const r = cli(args, fresh);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(readdirSync(fresh)).toEqual(['empty']);
  }, 120_000);
});
