import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import { bullBoardPlugin } from './bull-board.js';

type Json = Record<string, unknown>;

/** Does a request body schema accept `{}`? (No required field, no minimum property count.) */
function acceptsEmptyObject(schema: Json | undefined): boolean {
  if (!schema) return false;
  const required = schema['required'];
  return (!Array.isArray(required) || required.length === 0) && !(typeof schema['minProperties'] === 'number' && schema['minProperties'] > 0);
}

/**
 * What @fastify/swagger cannot express from route schemas:
 * - A POST/PUT without a body is treated as `{}` (the `preValidation` hook in app.ts), so its
 *   request body is optional exactly when `{}` is valid; @fastify/swagger marks every body required.
 * - Every answer carries `x-request-id`.
 */
export function finishDocument(doc: Json): Json {
  const paths = (doc['paths'] ?? {}) as Record<string, Record<string, Json>>;
  for (const ops of Object.values(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const body = op['requestBody'] as { required?: boolean; content?: Record<string, { schema?: Json }> } | undefined;
      if (body && (method === 'post' || method === 'put') && acceptsEmptyObject(body.content?.['application/json']?.schema)) body.required = false;
      for (const res of Object.values((op['responses'] ?? {}) as Record<string, Json>)) {
        res['headers'] = { ...(res['headers'] as Json | undefined), 'x-request-id': REQUEST_ID_HEADER };
      }
    }
  }
  return doc;
}

const REQUEST_ID_HEADER = {
  description: "The request's id (the caller's `x-request-id` when it matches `[A-Za-z0-9._:-]{1,64}`, else a UUID); quote it in reports",
  schema: { type: 'string' },
};

/** The OpenAPI document of every route (served at `/docs/json` by Swagger UI; needs `read`). */
export const openApiPlugin = fp(
  async (app, opts: { version: string }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'MyFinance Backup API',
          version: opts.version,
          description:
            'Backups of SQLite databases. Enqueue routes answer 202 with a job id; poll `GET /v1/jobs/{jobId}`. ' +
            'Errors are `application/problem+json` (RFC 9457) with a stable `code` (see docs/api.md).',
        },
        // Relative: the API serves this document itself, so its own origin is the server.
        servers: [{ url: '/', description: 'The API that serves this document' }],
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'API key' },
            apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
            basic: { type: 'http', scheme: 'basic', description: 'Admin user, or any user with an API key as password' },
          },
        },
        security: [{ bearer: [] }, { apiKey: [] }, { basic: [] }],
        tags: [
          { name: 'databases', description: 'The configured databases, their last backup and backup health' },
          { name: 'backups', description: 'Trigger, list, download, pin and delete backups' },
          { name: 'restores', description: 'Restore and verify backups (worker jobs)' },
          { name: 'schedules', description: 'Cron schedules of backups, verifies and prunes' },
          { name: 'retention', description: 'Retention plans (dry runs of a prune) and storage usage' },
          { name: 'jobs', description: 'State of queued and finished jobs' },
          { name: 'catalog', description: 'Catalog maintenance: rebuild from a storage target (admin)' },
          { name: 'ops', description: 'Health and metrics' },
        ],
      },
      // Shared schemas (`Problem`) appear under their own name in `components.schemas`.
      refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
      transformObject: (documentObject) => finishDocument(('openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject) as Json),
    });
  },
  { name: 'mfb-openapi', fastify: '5.x' },
);

/**
 * The pages a browser renders (Swagger UI, Bull Board), in their own encapsulated context so
 * that @fastify/helmet (which rebuilds its middleware on every request) runs only for them;
 * JSON routes get the precomputed headers of the hardening plugin.
 */
export async function browserPages(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    // Swagger UI and Bull Board are single-page apps with inline bootstrap code.
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'script-src': ["'self'", "'unsafe-inline'"],
        'style-src': ["'self'", "'unsafe-inline'", 'https:'],
        'img-src': ["'self'", 'data:', 'validator.swagger.io'],
        'upgrade-insecure-requests': null,
      },
    },
    // Plain-HTTP deployments on a LAN are common; HSTS belongs to the TLS terminator.
    hsts: false,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: false, uiConfig: { docExpansion: 'list', deepLinking: false } });
  await app.register(bullBoardPlugin);
}
