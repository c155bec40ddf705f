/**
 * Worker process entry: `node apps/worker/dist/main.js [--config file.yaml]` (from source:
 * `tsx --conditions=@mfb/source apps/worker/src/main.ts`).
 *
 * Starts like every process (`startService`: config, Redis check with its `noeviction`
 * warning, catalog), seeds and reconciles schedules, runs one BullMQ worker per queue, serves
 * /metrics and /health, and shuts down gracefully on SIGTERM/SIGINT (exit 0).
 */
import { parseArgs } from 'node:util';
import { reclaimStaleScratch } from '@mfb/backup';
import { runService, startService } from '@mfb/runtime';
import { startWorker, type WorkerRuntimeOptions } from './runtime.js';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string' },
    // No /metrics server and no catalog reads for metrics (deployments without Prometheus,
    // and the "metrics off" side of bench/observability).
    'disable-metrics': { type: 'boolean' },
    // Test-only switches (used by apps/worker/test and bench/jobs; see src/test-only/).
    'test-only-handler': { type: 'string' },
    'test-only-sleep-ms': { type: 'string' },
    'test-only-record': { type: 'string' },
    'test-only-throttle-bps': { type: 'string' },
    'test-only-die-after-release': { type: 'string' },
    'test-only-kill-after': { type: 'string' },
  },
  strict: true,
});

runService('worker', async () => {
  const { config, log, catalog } = await startService('worker', { configFile: args.config });

  const extra: Partial<WorkerRuntimeOptions> = {};
  if (args['test-only-handler'] !== undefined || args['test-only-record'] !== undefined || args['test-only-throttle-bps'] !== undefined || args['test-only-die-after-release'] !== undefined || args['test-only-kill-after'] !== undefined) {
    const testOnly = await import('./test-only/switches.js');
    Object.assign(extra, testOnly.testOnlyOptions(args));
    log.warn({ args }, 'TEST-ONLY switches active: not for production');
  }

  // Scratch files of dead processes (any database: a killed CLI run, a worker killed before
  // this one started); the first job of each database also sweeps its own under the lock.
  const reclaimed = await reclaimStaleScratch(config.tmpDir);
  if (reclaimed.files > 0 || reclaimed.failed.length > 0) log.warn({ tmpDir: config.tmpDir, ...reclaimed }, 'removed scratch files left by killed runs');

  const runtime = await startWorker({ config, catalog, log, ...extra, ...(args['disable-metrics'] ? { metricsEnabled: false } : {}) });
  log.info({ pid: process.pid, host: config.worker.host, metricsPort: runtime.httpPort, prefix: config.redis.prefix, concurrency: config.worker.concurrency }, 'worker ready');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal, graceMs: config.worker.shutdownGraceMs }, 'shutting down: no new jobs; running jobs get the grace period');
    // Last resort if an aborted job does not return (stuck in a call that ignores its signal):
    // exit anyway; BullMQ's stall check hands the job to another worker.
    setTimeout(() => {
      log.error('shutdown did not finish after the grace period + 30 s; exiting');
      process.exit(1);
    }, config.worker.shutdownGraceMs + 30_000).unref();
    runtime
      .close()
      .then(() => catalog.close())
      .then(
        () => {
          log.info('worker stopped');
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'error during shutdown');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
});
