import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distNode, freePort } from '@mfb/testkit';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');

/** The remote commands against a real API process (real Redis, no worker: jobs stay queued). */
describe('backupctl remote commands (trigger, status, list --remote)', () => {
  let dir: string;
  let api: ChildProcess | undefined;
  const prefix = `clitest-${randomUUID()}`;
  let port: number;
  const apiKey = randomUUID();
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'cli-remote-'));
    mkdirSync(join(dir, 'os-tmp'));
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      TMPDIR: join(dir, 'os-tmp'),
      MFB_API_PORT: String(port),
      MFB_API_KEYS: `ops:${apiKey}:read+write`,
      MFB_REDIS_PREFIX: prefix,
      MFB_LOG_LEVEL: 'warn',
    };
    const a = distNode(join(repo, 'apps/api/src/main.ts'));
    api = spawn(a.command, a.args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    api.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health/live`);
        if (res.ok) break;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline || api.exitCode !== null) throw new Error(`API did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  afterAll(async () => {
    if (api && api.exitCode === null) {
      api.kill('SIGTERM');
      await new Promise((r) => api!.once('exit', r));
    }
    try {
      const keys = execFileSync('redis-cli', ['--scan', '--pattern', `${prefix}:*`], { encoding: 'utf8' }).split('\n').filter(Boolean);
      for (let i = 0; i < keys.length; i += 500) execFileSync('redis-cli', ['del', ...keys.slice(i, i + 500)]);
    } catch {
      /* redis-cli missing: keys expire with the test Redis */
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((res, rej) => {
      const cmd = distNode(join(repo, 'apps/cli/src/main.ts'), args);
      const c = spawn(cmd.command, cmd.args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('error', rej);
      c.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
    });

  it('triggers a backup, reads its job state and lists backups through the API', async () => {
    const t = await cli(['trigger', 'demo', '--json']);
    expect(t.code, t.stderr).toBe(0);
    const accepted = (JSON.parse(t.stdout) as { accepted: { jobId: string; queue: string } }).accepted;
    expect(accepted.queue).toBe('backup');

    const s = await cli(['status', accepted.jobId, '--json']);
    expect(s.code, s.stderr).toBe(0);
    const job = JSON.parse(s.stdout) as { id: string; state: string };
    expect(job.id).toBe(accepted.jobId);
    expect(['waiting', 'delayed', 'prioritized', 'active']).toContain(job.state);

    const l = await cli(['list', '--remote', 'demo', '--json']);
    expect(l.code, l.stderr).toBe(0);
    expect(Array.isArray((JSON.parse(l.stdout) as { items: unknown[] }).items)).toBe(true);
  });

  it('maps API errors to exit codes: unknown database is 4, a wrong API key is 3', async () => {
    const missing = await cli(['trigger', 'no-such-db', '--json']);
    expect(missing.code).toBe(4);
    expect((JSON.parse(missing.stdout) as { error: { code: string } }).error.code).toMatch(/NOT_FOUND/);

    const keyFile = join(dir, 'wrong.key');
    writeFileSync(keyFile, 'not-the-key-at-all-0000\n', { mode: 0o600 });
    const denied = await cli(['status', 'x', '--api-key-file', keyFile]);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/^error\[AUTH_INVALID_CREDENTIALS\]: /);
    expect(denied.stderr).not.toContain(apiKey);
  });
});
