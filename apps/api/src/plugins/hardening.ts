import fp from 'fastify-plugin';
import helmetMiddleware from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import { createHash } from 'node:crypto';
import { isAppError } from '@mfb/errors';
import { ApiProblem, HTTP_PROBLEMS } from '../errors.js';
import { httpProblem, problem, sendProblem } from './problem.js';
import type { Authenticator } from './auth.js';
import type { RedisConnection } from '@mfb/jobs';
import { sharedRateLimitStore } from './rate-limit-store.js';

/** Pages rendered by browsers; they get @fastify/helmet's headers instead (docs.ts). */
const BROWSER_PAGES = /^\/(docs|admin)(\/|\?|$)/;

export interface HardeningOptions {
  authenticator: Authenticator;
  rateLimitPerMinute: number;
  /**
   * Counters shared by every API process (keys under `rateLimitKeyPrefix`); without it each
   * process counts alone.
   */
  redis?: RedisConnection;
  rateLimitKeyPrefix?: string;
  /** Event-loop delay (ms) above which requests get 503. @defaultValue 1000 */
  maxEventLoopDelayMs?: number;
}

/**
 * Security headers, per-key rate limiting and load shedding.
 * - Rate limit buckets: the key's id for valid credentials, else the client address (so
 *   guessing keys is throttled too). 429 problem+json with `retry-after`.
 * - Under pressure (event loop delay): 503 problem+json with `retry-after`.
 */
export const hardeningPlugin = fp(
  async (app, opts: HardeningOptions) => {
    // Security headers on every answer, computed once (a locked-down CSP for JSON). The
    // browser pages (docs, Bull Board) override them with @fastify/helmet in their own
    // context (see docs.ts): @fastify/helmet rebuilds its middleware on every request, which
    // cost ~25% of the trigger route's throughput in bench/api.
    const apiHeaders = staticHelmetHeaders();
    app.addHook('onRequest', (req, reply, done) => {
      // Headers given to Fastify win over those helmet sets on the raw response.
      if (!BROWSER_PAGES.test(req.url)) reply.headers(apiHeaders);
      done();
    });

    await app.register(rateLimit, {
      // Not per route: one global hook below, so that every answer (Bull Board's routes,
      // which have their own error handler, and unknown URLs too) is our problem+json.
      global: false,
      max: opts.rateLimitPerMinute,
      timeWindow: 60_000,
      ...(opts.redis
        ? {
            store: sharedRateLimitStore({
              redis: opts.redis,
              keyPrefix: opts.rateLimitKeyPrefix ?? 'mfb:ratelimit:',
              onDegraded: (degraded, reason) =>
                degraded
                  ? app.log.warn({ reason }, 'rate limit: Redis unavailable, counting per process until it is back')
                  : app.log.info('rate limit: counting in Redis again'),
            }),
          }
        : {}),
      keyGenerator: (req) => {
        const p = opts.authenticator.resolve(req);
        if (p) return `principal:${p.id}`;
        return `ip:${createHash('sha256').update(req.ip).digest('hex').slice(0, 16)}`;
      },
      errorResponseBuilder: (_req, ctx) =>
        new ApiProblem('RATE_LIMITED', HTTP_PROBLEMS.RATE_LIMITED, `rate limit of ${ctx.max} requests per ${ctx.after} exceeded; retry in ${Math.ceil(ctx.ttl / 1000)} s`),
    });
    const limiter = app.rateLimit();
    app.addHook('onRequest', async (req, reply) => {
      if ((req.url.split('?')[0] ?? '') === '/health/live') return;
      try {
        await limiter.call(app, req, reply);
      } catch (err) {
        if (!isAppError(err)) throw err;
        return sendProblem(reply, problem(req, err.status, err.code, err.message));
      }
    });

    await app.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs ?? 1000,
      retryAfter: 5,
      pressureHandler: (req, reply, type) => {
        reply.header('retry-after', '5');
        void sendProblem(reply, httpProblem(req, 'OVERLOADED', `server is overloaded (${type}); retry shortly`));
      },
    });
  },
  { name: 'mfb-hardening', fastify: '5.x', dependencies: ['mfb-problem'] },
);

/** Headers helmet sets for a JSON API answer (CSP `default-src 'none'`), computed once. */
export function staticHelmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (k: string, v: unknown) => void (headers[k.toLowerCase()] = String(v)),
    removeHeader: (k: string) => void delete headers[k.toLowerCase()],
    getHeader: (k: string) => headers[k.toLowerCase()],
  };
  // The headers that matter for JSON (OWASP REST cheat sheet); the browser-document ones
  // (DNS prefetch, XSS auditor, origin-agent-cluster, ...) are only bytes on every answer.
  helmetMiddleware({
    contentSecurityPolicy: { useDefaults: false, directives: { 'default-src': ["'none'"], 'frame-ancestors': ["'none'"] } },
    frameguard: { action: 'deny' },
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
    hsts: false,
  })({} as IncomingMessage, res as unknown as ServerResponse, () => undefined);
  return headers;
}
