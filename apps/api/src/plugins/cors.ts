import fp from 'fastify-plugin';
import { httpProblem, sendProblem } from './problem.js';

/** What a browser page may send cross-origin (the API's auth headers and JSON bodies). */
const ALLOW_HEADERS = 'authorization, x-api-key, content-type, x-request-id';
const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE';
/** Answer headers a cross-origin page may read besides the CORS-safelisted ones. */
const EXPOSE_HEADERS = 'location, retry-after, x-request-id, x-checksum-sha256, content-disposition, content-length, www-authenticate, allow';
const PREFLIGHT_MAX_AGE_S = '600';

/**
 * CORS for the browser dashboard: an explicit allow-list of origins (`api.corsOrigins`, none
 * by default). An allowed origin gets `access-control-allow-origin: <that origin>` (never `*`)
 * and its preflights are answered 204 here, before rate limiting and authentication (a
 * preflight carries no credentials). A preflight from any other origin is
 * `403 CORS_ORIGIN_NOT_ALLOWED`; its other requests are answered without CORS headers, so the
 * browser does not let the page read them. No `access-control-allow-credentials`: the API
 * authenticates with headers the page sets itself, not cookies.
 */
export const corsPlugin = fp(
  async (app, opts: { origins: readonly string[] }) => {
    const allowed = new Set(opts.origins);
    app.addHook('onRequest', (req, reply, done) => {
      // Answers depend on Origin once any origin is allowed: caches must key on it.
      if (allowed.size > 0) reply.header('vary', 'origin');
      const origin = req.headers.origin;
      if (typeof origin !== 'string') return done();
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      if (!allowed.has(origin)) {
        if (!preflight) return done();
        void sendProblem(reply, httpProblem(req, 'CORS_ORIGIN_NOT_ALLOWED', `origin ${JSON.stringify(origin.slice(0, 200))} is not in api.corsOrigins`));
        return;
      }
      reply.header('access-control-allow-origin', origin);
      if (!preflight) {
        reply.header('access-control-expose-headers', EXPOSE_HEADERS);
        return done();
      }
      void reply
        .code(204)
        .headers({ 'access-control-allow-methods': ALLOW_METHODS, 'access-control-allow-headers': ALLOW_HEADERS, 'access-control-max-age': PREFLIGHT_MAX_AGE_S })
        .send();
    });
  },
  { name: 'mfb-cors', fastify: '5.x', dependencies: ['mfb-problem'] },
);
