export type * from './types.js';
export { ConfigError, CONFIG_ERROR_CODES, type ConfigErrorCode } from './errors.js';
export { loadConfig, redactConfig, keyFileModeProblem, DEFAULTS, DEFAULT_CONFIG_FILE, RESTORE_DRILL_SCHEDULE_ID } from './load.js';
export type { LoadConfigOptions } from './load.js';
export { renderConfigTemplate, generateKeyFile, keyFingerprint } from './template.js';
export type { ConfigTemplateOptions } from './template.js';
export { isValidTimeZone, cronProblem } from './validate.js';
