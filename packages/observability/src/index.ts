export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { createMetrics, Registry, STAGES, type DiskVolume, type Metrics, type Stage } from './metrics.js';
