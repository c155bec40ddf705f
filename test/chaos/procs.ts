/**
 * Real processes of the chaos suite (worker, API, writer, CLI), started with `tsNode` as one
 * node process each, in their own process group, their output kept in memory (parsed pino
 * lines) and appended to a log file per process (grepped for secrets at the end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runProcess, tsNode, type ProcessRun } from '@mfb/testkit';

export const ROOT = resolve(import.meta.dirname, '../..');
export const WORKER_MAIN = join(ROOT, 'apps/worker/src/main.ts');
export const API_MAIN = join(ROOT, 'apps/api/src/main.ts');
export const CLI_MAIN = join(ROOT, 'apps/cli/src/main.ts');
export const WRITER = join(ROOT, 'test/chaos/writer.ts');

export type LogLine = Record<string, unknown>;

/** The environment without settings that would override the config file. */
export function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'REDIS_URL' && !k.startsWith('MFB_')) out[k] = v;
  return out;
}

export class Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<void>;
  /** Killed on purpose by the suite (SIGKILL). */
  killed = false;

  constructor(
    readonly name: string,
    script: string,
    args: string[],
    logFile: string,
  ) {
    const cmd = tsNode(script, args);
    this.child = spawn(cmd.command, cmd.args, { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.pid = this.child.pid!;
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      appendFileSync(logFile, d);
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ raw: line });
        }
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      appendFileSync(logFile, d);
      this.stderr = (this.stderr + d.toString()).slice(-8000);
    });
    this.exited = new Promise((res) => this.child.once('exit', () => res()));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find(pred);
      if (hit) return hit;
      if (!this.alive) throw new Error(`${this.name} ${this.pid} exited: ${this.stderr.slice(-2000)}`);
      if (Date.now() > until) throw new Error(`${this.name}: timeout waiting for a log line; last: ${JSON.stringify(this.logs.slice(-5))}`);
      await sleep(25);
    }
  }

  /** SIGKILL the whole process group. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.killed = true;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await this.exited;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) process.kill(this.pid, sig);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const t = setTimeout(() => void this.kill(), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

export function runCli(args: string[], logFile: string): Promise<ProcessRun> {
  const cmd = tsNode(CLI_MAIN, args);
  return runProcess(cmd.command, cmd.args, { cwd: ROOT, env: cleanEnv() }).then((r) => {
    appendFileSync(logFile, r.stdout + r.stderr);
    return r;
  });
}

/**
 * A TCP forwarder on a fixed port whose upstream can be switched at any time (open
 * connections are cut, so clients reconnect to the new one): the configured S3 endpoint stays
 * the same while a round puts a fault proxy between the workers and the S3 server.
 */
export interface Switch {
  port: number;
  endpoint: string;
  /** Switch; cuts the open connections and answers how many there were. */
  setUpstream(port: number): number;
  close(): Promise<void>;
}

export async function startSwitch(initialPort: number): Promise<Switch> {
  let upstreamPort = initialPort;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = connect(upstreamPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(up);
    client.on('close', () => sockets.delete(client));
    up.on('close', () => sockets.delete(up));
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    setUpstream(p) {
      upstreamPort = p;
      // Kept-alive connections would stay on the old upstream: cut them, clients reconnect.
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n / 2;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
