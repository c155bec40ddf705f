import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import { bullBoardPlugin } from './bull-board.js';

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
            'Errors are `application/problem+json` with a stable `code` (see docs/api.md).',
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'API key' },
            apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
            basic: { type: 'http', scheme: 'basic', description: 'Admin user, or any user with an API key as password' },
          },
        },
        security: [{ bearer: [] }, { apiKey: [] }, { basic: [] }],
        tags: [
          { name: 'databases' },
          { name: 'backups' },
          { name: 'restores' },
          { name: 'schedules' },
          { name: 'jobs' },
          { name: 'ops' },
        ],
      },
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
