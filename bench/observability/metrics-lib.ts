/** Shared pieces of the observability benchmarks (bench/observability/metrics-*.ts). */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
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
  opts: { concurrency: number; targets?: string[]; level?: number },
): Promise<{ file: string; prefix: string; dataDir: string; catalogPath: string; metricsPort: number }> {
  const metricsPort = await freePort();
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
