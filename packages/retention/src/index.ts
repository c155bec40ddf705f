export { planRetention } from './plan.js';
export type { RetentionItem, RetentionPolicy, RetentionPlan } from './plan.js';
export { RetentionPolicyError, RetentionInputError } from './errors.js';
