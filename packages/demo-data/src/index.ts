export { prng, generateFinanceDb, summarizeFinanceDb, FINANCE_SCHEMA_VERSION, type GenerateOptions, type GenerateResult, type FinanceSummary } from './finance-db.js';
