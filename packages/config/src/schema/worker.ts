/** `worker`: job execution (concurrency, lock, shutdown, metrics endpoint, retries). */
import { Type } from '@sinclair/typebox';
import { DEFAULTS } from '../defaults.js';
import { HostId, Int } from './common.js';

const DAY_MS = 86_400_000;

export const WorkerSchema = Type.Object(
  {
    host: Type.Optional(HostId('the host this worker serves: it takes the snapshot jobs of databases[].host equal to it (env MFB_HOST; default the machine name)')),
    concurrency: Type.Optional(Int(1, 256, 'jobs at once per queue per worker (env MFB_WORKER_CONCURRENCY)', { default: DEFAULTS.concurrency })),
    lockTtlMs: Type.Optional(Int(1000, DAY_MS, 'per-database lock TTL (env MFB_LOCK_TTL_MS)', { default: DEFAULTS.lockTtlMs })),
    lockReplicaTimeoutMs: Type.Optional(
      Int(0, 60_000, 'Sentinel: how long each lock write waits for a replica to acknowledge it (WAIT); 0 = no wait', { default: DEFAULTS.lockReplicaTimeoutMs }),
    ),
    lockReplicaRequired: Type.Optional(
      Type.Boolean({ description: 'Sentinel: a lock no replica acknowledged in time is given back and the job retried (default: a warning)', default: false }),
    ),
    orphanArtifactAgeMs: Type.Optional(
      Int(1000, 30 * DAY_MS, 'an artifact without its manifest older than this is deleted under the database lock', { default: DEFAULTS.orphanArtifactAgeMs }),
    ),
    shutdownGraceMs: Type.Optional(Int(0, DAY_MS, 'SIGTERM wait for the running job (env MFB_SHUTDOWN_GRACE_MS)', { default: DEFAULTS.shutdownGraceMs })),
    metricsPort: Type.Optional(Int(0, 65535, 'Prometheus port (env MFB_METRICS_PORT)', { default: DEFAULTS.metricsPort })),
    metricsHost: Type.Optional(Type.String({ minLength: 1, description: 'Prometheus host (env MFB_METRICS_HOST)', default: DEFAULTS.metricsHost })),
    attempts: Type.Optional(
      Type.Object(
        Object.fromEntries(Object.entries(DEFAULTS.attempts).map(([job, n]) => [job, Type.Optional(Int(1, 100, `attempts of a ${job} job`, { default: n }))])),
        { additionalProperties: false },
      ),
    ),
    backoffMs: Type.Optional(Int(0, 3_600_000, 'first retry delay (exponential)', { default: DEFAULTS.backoffMs })),
  },
  { additionalProperties: false },
);
