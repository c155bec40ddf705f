export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { createMetrics, Registry, type Metrics } from './metrics.js';
