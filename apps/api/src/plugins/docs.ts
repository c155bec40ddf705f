import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

/** OpenAPI document at `/docs/json`, Swagger UI at `/docs` (both need a `read` key or basic auth). */
export const docsPlugin = fp(
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
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: false, uiConfig: { docExpansion: 'list', deepLinking: false } });
  },
  { name: 'mfb-docs', fastify: '5.x' },
);
