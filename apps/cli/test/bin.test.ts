/**
 * The `backupctl` users run: the bin from node_modules/.bin (pnpm's shim for apps/cli/bin),
 * plain node over the compiled dist/ of the CLI and of every package it imports (no tsx, no
 * @mfb/source condition). The other CLI tests run the same compiled dist/ with plain node
 * (`distNode` from @mfb/testkit), without the bin shim.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_VERSION } from '@mfb/backup';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const backupctl = join(repo, 'node_modules/.bin/backupctl');

describe('backupctl (compiled)', () => {
  let dir: string;
  beforeAll(() => {
    // Incremental: a no-op when scripts/test has just built.
    execFileSync(join(repo, 'node_modules/.bin/tsc'), ['-b', join(repo, 'apps/cli/tsconfig.build.json')], { stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'cli-bin-'));
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[]) =>
    spawnSync(backupctl, args, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, TMPDIR: dir } });

  it('prints its version and nothing else', () => {
    const r = run(['--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${TOOL_VERSION}\n`);
    expect(r.status).toBe(0);
  });

  it('runs the engine worker threads (SQLite, zstd) from compiled modules, not from code in strings', () => {
    // Type-checked and linted like the rest (they were eval'd strings before): tsc emits them
    // beside the modules that start them, and the compiled starters load those files.
    const dist = join(repo, 'packages/backup/dist');
    for (const [task, starter] of [
      ['sqlite-task.js', 'sqlite-worker.js'],
      ['zstd-task.js', 'compress.js'],
    ]) {
      expect(existsSync(join(dist, task!)), task).toBe(true);
      expect(readFileSync(join(dist, starter!), 'utf8'), starter).not.toMatch(/eval:\s*true/);
    }
  });

  it('runs a whole backup and verify (native addons, worker threads) from the compiled code', () => {
    const r = run(['demo', '--size-mib', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { backup: { backupId: string }; verify: { ok: boolean } };
    expect(out.backup.backupId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/);
    expect(out.verify.ok).toBe(true);
  });

  it('backs up with zstd (compression worker threads) from the compiled code', () => {
    const r = run(['backup', 'demo', '--compression', 'zstd', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ compression: { algorithm: 'zstd', level: 3 } });
  });
});
