/** `health`: thresholds of `/v1/health` (and `databases[].health`, their per-database overrides). */
import { Type } from '@sinclair/typebox';
import { Int } from './common.js';

export const HEALTH_DEFAULTS = Object.freeze({
  maxAgeIntervals: 2,
  failedBackups: 3,
  verifyMaxAgeDays: 0,
  diskFreePercent: 10,
  targetProbe: true,
  targetProbeTimeoutMs: 2000,
  targetProbeCacheSeconds: 60,
  cacheSeconds: 5,
});

const thresholds = {
  maxAgeIntervals: Type.Optional(
    Type.Number({ minimum: 1, maximum: 1000, description: `critical when the last successful backup is older than N x the shortest active backup schedule interval (warning past 75%); default ${HEALTH_DEFAULTS.maxAgeIntervals}` }),
  ),
  maxAgeSeconds: Type.Optional(Int(60, 10 * 366 * 86_400, 'a fixed age instead (also for databases without a backup schedule)')),
  failedBackups: Type.Optional(Int(1, 1000, `critical when the last K finished backup jobs failed; default ${HEALTH_DEFAULTS.failedBackups}`)),
  verifyMaxAgeDays: Type.Optional(Int(0, 3660, 'warning when no verify succeeded for M days, critical past 2M; default 0 (off)')),
};

/** `databases[].health`. */
export const DatabaseHealthSchema = Type.Object(thresholds, { additionalProperties: false });

export const HealthSchema = Type.Object(
  {
    ...thresholds,
    diskFreePercent: Type.Optional(Type.Number({ minimum: 0, maximum: 99, description: `critical below this free space (%) on tmpDir and file:// storage, warning below twice it; 0 = off; default ${HEALTH_DEFAULTS.diskFreePercent}` })),
    targetProbe: Type.Optional(Type.Boolean({ description: 'probe each target; default true' })),
    targetProbeTimeoutMs: Type.Optional(Int(100, 60_000, `probe timeout; default ${HEALTH_DEFAULTS.targetProbeTimeoutMs}`)),
    targetProbeCacheSeconds: Type.Optional(Int(0, 86_400, `probe results reused this long; default ${HEALTH_DEFAULTS.targetProbeCacheSeconds}`)),
    cacheSeconds: Type.Optional(Int(0, 3600, `a computed report is reused this long; default ${HEALTH_DEFAULTS.cacheSeconds}`)),
  },
  { additionalProperties: false },
);
