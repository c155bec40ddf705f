import type { TSchema } from '@sinclair/typebox';
import { DatabaseNotFoundError } from '../errors.js';
import { PROBLEM_JSON } from '../plugins/problem.js';
import type { FastifyInstance } from 'fastify';
import type { DatabaseConfig } from '@mfb/config';

interface HeaderDoc {
  type: 'string' | 'integer';
  description: string;
}

const header = (description: string, type: HeaderDoc['type'] = 'string'): HeaderDoc => ({ type, description });

/** Response headers the API sends, documented once. */
export const HEADERS = {
  location: header('URL of the created resource (201) or of the job to poll (202)'),
  retryAfter: header('Seconds to wait before retrying', 'integer'),
  wwwAuthenticate: header('Authentication challenge: `Bearer realm=...` (API routes) or `Basic realm=...` (`/docs`, `/admin`)'),
  allow: header('Methods the path supports'),
} as const;

/** A JSON answer with a description (and headers) in the OpenAPI document. */
export function jsonResponse(schema: TSchema, description: string, headers?: Record<string, HeaderDoc>) {
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } };
}

/** A problem+json answer in the OpenAPI document. */
export function problemResponse(description: string, headers?: Record<string, HeaderDoc>) {
  return { description, ...(headers ? { headers } : {}), content: { [PROBLEM_JSON]: { schema: { $ref: 'Problem#' } } } };
}

/** `202 Accepted` of the enqueue routes. */
export function acceptedResponse(schema: TSchema) {
  return jsonResponse(schema, 'Accepted: the job is queued; poll `statusUrl` (also the `Location` header)', { location: HEADERS.location });
}

/** Error answers any route can give without authentication (malformed URL, overload). */
export const publicProblemResponses = {
  '4xx': problemResponse('Client error (see `code`)'),
  503: problemResponse('`OVERLOADED` (event loop saturated), `REDIS_UNAVAILABLE` or `NOT_READY`; retry after `retry-after` seconds', {
    'retry-after': HEADERS.retryAfter,
  }),
  '5xx': problemResponse('Server error (see `code`; quote `requestId`)'),
} as const;

/** Error responses every authenticated route documents (bodies are problem+json). */
export const problemResponses = {
  400: problemResponse('Invalid request: `VALIDATION_FAILED`, `INVALID_JSON`, `BAD_URL`, ... (see docs/api.md)'),
  401: problemResponse('`AUTH_REQUIRED` or `AUTH_INVALID_CREDENTIALS`', { 'www-authenticate': HEADERS.wwwAuthenticate }),
  403: problemResponse('`AUTH_INSUFFICIENT_SCOPE`: the key lacks the scope this operation needs'),
  429: problemResponse('`RATE_LIMITED`: too many requests for this key (or address)', { 'retry-after': HEADERS.retryAfter }),
  ...publicProblemResponses,
} as const;

/** The configured database `id`. @throws DatabaseNotFoundError */
export function databaseOr404(app: FastifyInstance, id: string): DatabaseConfig {
  const db = app.config.databases.find((d) => d.id === id);
  if (!db) throw new DatabaseNotFoundError(id);
  return db;
}
