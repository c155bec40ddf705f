/** `api`: the HTTP API (listen address, API keys, admin credentials, limits, CORS, timeouts). */
import { Type } from '@sinclair/typebox';
import { DEFAULTS } from '../defaults.js';
import { show, type Problems } from '../validate.js';
import { Int } from './common.js';

/**
 * A CORS origin exactly as browsers send it (`https://dash.example.org`, `http://127.0.0.1:3000`):
 * scheme, host and optional port, nothing else. `*` is refused: the allow-list is explicit.
 */
function refineCorsOrigin(v: string, path: string, p: Problems): string | undefined {
  if (v.includes('*')) {
    p.add(path, 'wildcards are not allowed; list each origin (e.g. https://dashboard.example.org)');
    return undefined;
  }
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== v) {
    p.add(path, `must be an origin: http(s)://host[:port] without path or trailing slash, got ${show(v)}`);
    return undefined;
  }
  return v;
}

export const CorsOriginSchema = Type.String({ refine: refineCorsOrigin });

export const ApiKeySchema = Type.Object(
  {
    id: Type.String({ description: 'public identifier, logged instead of the key' }),
    key: Type.String({ secret: true, description: 'the secret (at least 16 characters)' }),
    scopes: Type.Optional(Type.Array(Type.Unknown(), { description: 'read, write and/or admin' })),
  },
  { additionalProperties: false },
);

export const ApiSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1, description: 'listen host (env MFB_API_HOST)', default: DEFAULTS.apiHost })),
    port: Type.Optional(Int(0, 65535, 'listen port (env MFB_API_PORT)', { default: DEFAULTS.apiPort })),
    keys: Type.Optional(Type.Array(ApiKeySchema, { description: 'API keys (env MFB_API_KEYS=id:secret:scope+scope,...)' })),
    metricsPublic: Type.Optional(Type.Boolean({ description: '/metrics without a key' })),
    adminUser: Type.Optional(Type.String({ minLength: 1, description: 'Bull Board basic-auth user (env MFB_ADMIN_USER)' })),
    adminPassword: Type.Optional(Type.String({ secret: true, description: 'at least 12 characters (env MFB_ADMIN_PASSWORD)' })),
    rateLimitPerMinute: Type.Optional(Int(1, 1_000_000, 'requests per minute per client', { default: DEFAULTS.rateLimitPerMinute })),
    bodyLimitBytes: Type.Optional(Int(1024, 1024 * 1024 * 1024, 'largest request body', { default: DEFAULTS.bodyLimitBytes })),
    corsOrigins: Type.Optional(Type.Array(CorsOriginSchema, { description: 'browser origins allowed (env MFB_API_CORS_ORIGINS)' })),
    requestTimeoutMs: Type.Optional(Int(1000, 3_600_000, 'whole request deadline', { default: DEFAULTS.requestTimeoutMs })),
    headersTimeoutMs: Type.Optional(Int(1000, 3_600_000, 'headers deadline (at most requestTimeoutMs)', { default: DEFAULTS.headersTimeoutMs })),
    idleTimeoutMs: Type.Optional(Int(1000, 86_400_000, 'idle connection timeout', { default: DEFAULTS.idleTimeoutMs })),
  },
  { additionalProperties: false },
);
