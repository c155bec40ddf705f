/** Shared helpers of the job benchmarks: temp config for worker processes, spawning, waiting. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { testConfig } from '@mfb/testkit';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TSX = join(ROOT, 'node_modules/.bin/tsx');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface BenchConfig {
  file: string;
  prefix: string;
  dataDir: string;
}

/** Write a worker config for `databases` under `dir` (a file read by `loadConfig`, as a user's is). */
export async function writeConfig(dir: string, databases: Array<{ id: string; path: string }>, opts: { concurrency: number; level?: number }): Promise<BenchConfig> {
  const { config, file } = await testConfig({
    dir,
    redisUrl: REDIS_URL,
    redisPrefix: `bench-${randomUUID()}`,
    settings: {
      dataDir: './data',
      localRetention: { keepLast: 1000 },
      databases: databases.map((d) => ({ id: d.id, path: d.path, compression: { algorithm: 'gzip', level: opts.level ?? 6 } })),
      worker: { concurrency: opts.concurrency, shutdownGraceMs: 10_000, attempts: { backup: 3, upload: 3, prune: 3, restore: 1, verify: 3 }, backoffMs: 1000 },
      log: { level: 'info' },
    },
  });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  return { file, prefix: config.redis.prefix, dataDir: config.dataDir };
}

/** Spawn a worker process; resolves once it logged `worker ready` (log level must allow info, so we parse stderr/stdout loosely). */
export function spawnProc(args: string[], env: Record<string, string> = {}): { proc: ChildProcess; ready: Promise<void>; exited: Promise<number | null> } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MFB_')));
  // `node --import tsx` rather than the tsx CLI: the child is the worker itself, so its pid
  // gives its CPU time (/proc/<pid>/stat) and signals reach it directly.
  const proc = spawn(process.execPath, ['--conditions=@mfb/source', '--import', 'tsx', ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ready = new Promise<void>((res, rej) => {
    const on = (c: Buffer): void => {
      out += c.toString();
      if (out.includes('worker ready') || out.includes('READY')) res();
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.once('exit', (code) => rej(new Error(`process exited ${code}: ${out.slice(-2000)}`)));
  });
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  return { proc, ready, exited };
}

/** CPU time (user + system) of a process so far, in ms, from /proc (Linux). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (clock ticks, 100 per second on Linux)
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export async function waitFor(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error(`timeout: ${what}`);
    await sleep(100);
  }
}
