export { buildApp, API_VERSION, type BuildOptions } from './app.js';
export { Authenticator } from './plugins/auth.js';
export type { ApiDeps, Principal, Scope } from './types.js';
export * from './errors.js';
