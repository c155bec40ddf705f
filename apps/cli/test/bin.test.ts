/**
 * The `backupctl` users run: the bin from node_modules/.bin (pnpm's shim for apps/cli/bin),
 * plain node over the compiled dist/ of the CLI and of every package it imports (no tsx, no
 * @mfb/source condition). The other CLI tests run the source through tsx.
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

  it('runs the SQLite worker thread from a compiled module, not from code in a string', () => {
    // Type-checked and linted like the rest (it was an eval'd string before): tsc emits it
    // beside the module that starts it, and the compiled starter loads that file.
    const dist = join(repo, 'packages/backup/dist');
    expect(existsSync(join(dist, 'sqlite-task.js'))).toBe(true);
    expect(readFileSync(join(dist, 'sqlite-worker.js'), 'utf8')).not.toMatch(/eval:\s*true/);
  });

  it('runs a whole backup and verify (native addons, worker threads) from the compiled code', () => {
    const r = run(['demo', '--size-mib', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { backup: { backupId: string }; verify: { ok: boolean } };
    expect(out.backup.backupId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/);
    expect(out.verify.ok).toBe(true);
  });
});
