export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { createMetrics, dropEmptyFamilies, Registry, STAGES, type DiskVolume, type Metrics, type Stage } from './metrics.js';
