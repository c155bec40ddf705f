import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** A private redis-server (AOF on) for tests that restart or flush Redis. */
export interface OwnRedis {
  url: string;
  port: number;
  dir: string;
  /** PID of the running redis-server (to SIGSTOP/SIGCONT it), undefined while stopped. */
  readonly pid: number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

/** A port the kernel just handed out (picking one at random can hit an ephemeral port in use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function ownRedis(): Promise<OwnRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'mfb-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const r: OwnRedis = {
    url,
    port,
    dir,
    get pid() {
      return proc?.pid;
    },
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction'], {
        stdio: 'ignore',
      });
      for (let i = 0; i < 100; i++) {
        const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        c.on('error', () => undefined);
        try {
          await c.connect();
          if ((await c.ping()) === 'PONG') {
            c.disconnect();
            return;
          }
        } catch {
          // not up yet
        }
        c.disconnect();
        await sleep(50);
      }
      throw new Error('redis-server did not start');
    },
    async stop() {
      if (!proc) return;
      const p = proc;
      proc = undefined;
      const exited = new Promise((res) => p.once('exit', res));
      const c = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      // SHUTDOWN fsyncs the AOF, like a clean restart of a real server.
      await c.call('SHUTDOWN').catch(() => undefined);
      c.disconnect();
      await exited;
    },
    async dispose() {
      if (proc) {
        proc.kill('SIGCONT');
        proc.kill('SIGKILL');
        proc = undefined;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  return r;
}
