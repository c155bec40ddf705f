/** Shared pieces of the observability benchmarks (bench/observability/metrics-*.ts). */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, testConfig } from '@mfb/testkit';
import { REDIS_URL } from '../jobs/lib.js';

/** Percentile (nearest rank) of sorted numbers. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A worker config for `databases` (targets by name, each a directory under `dir`), metrics on a free port. */
export async function fleetConfig(
  dir: string,
  databases: Array<{ id: string; path: string; targets?: string[] }>,
  opts: { concurrency: number; targets?: string[]; level?: number; metricsPort?: number },
): Promise<{ file: string; prefix: string; dataDir: string; catalogPath: string; metricsPort: number }> {
  const metricsPort = opts.metricsPort ?? (await freePort());
  const { config, file } = await testConfig({
    dir,
    redisUrl: REDIS_URL,
    redisPrefix: `bench-${randomUUID()}`,
    settings: {
      dataDir: './data',
      localRetention: { keepLast: 1000 },
      targets: (opts.targets ?? []).map((name) => ({ name, url: `./targets/${name}`, retention: { keepLast: 1000 } })),
      databases: databases.map((d) => ({ id: d.id, path: d.path, targets: d.targets ?? [], compression: { algorithm: 'gzip', level: opts.level ?? 6 } })),
      worker: { metricsPort, concurrency: opts.concurrency, shutdownGraceMs: 10_000, attempts: { backup: 1, upload: 3, prune: 3, restore: 1, verify: 1 }, backoffMs: 500 },
      log: { level: 'info' },
    },
  });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  for (const t of opts.targets ?? []) mkdirSync(`${dir}/targets/${t}`, { recursive: true, mode: 0o700 });
  return { file, prefix: config.redis.prefix, dataDir: config.dataDir, catalogPath: config.catalogPath, metricsPort };
}

/** A worker process (`node --import tsx apps/worker/src/main.ts`), resolved once ready, with its metrics port. */
export async function startWorkerProc(root: string, configFile: string, extraArgs: string[] = []): Promise<{ proc: ChildProcess; metricsPort: number; stop(): Promise<void> }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MFB_') && k !== 'REDIS_URL'));
  const proc = spawn(process.execPath, ['--conditions=@mfb/source', '--import', 'tsx', join(root, 'apps/worker/src/main.ts'), '--config', configFile, ...extraArgs], {
    cwd: root,
    env: clean,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let out = '';
  const metricsPort = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"worker ready"'));
      if (line) resolve(Number((JSON.parse(line) as { metricsPort: number }).metricsPort));
    });
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('exit', (code) => reject(new Error(`worker exited ${code}: ${out.slice(-2000)}`)));
  });
  return {
    proc,
    metricsPort,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
