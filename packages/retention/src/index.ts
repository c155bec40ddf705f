export { planRetention } from './plan.js';
export type { RetentionItem, RetentionPlan, RetentionTotals, KeepRule, DeleteRule } from './plan.js';
export { validateRetentionPolicy, parseByteSize, formatBytes, RETENTION_POLICY_FIELDS } from './policy.js';
export type { RetentionPolicy } from './policy.js';
export { parseDuration } from './duration.js';
export type { RetentionDuration } from './duration.js';
export { isKnownTimeZone } from './zone.js';
export { RetentionPolicyError, RetentionInputError } from './errors.js';
