import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '@mfb/config';
import { ForbiddenError, InvalidCredentialsError, UnauthorizedError } from '../errors.js';
import { problem, sendProblem } from './problem.js';
import { impliedScopes } from '@mfb/client';
import type { Principal, RouteAuth, Scope } from '../types.js';

/** Pages a browser opens (Swagger UI, Bull Board). */
const BROWSER_PATH = /^\/(docs|admin|status)(\/|\?|$)/;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** admin implies write implies read. */
function expand(scopes: readonly Scope[]): ReadonlySet<Scope> {
  return new Set(impliedScopes(scopes));
}

interface KeyEntry {
  hash: Buffer;
  principal: Principal;
}

/**
 * Resolves credentials to a principal. Keys are compared as SHA-256 digests with
 * `timingSafeEqual` against every configured key (no early exit), so neither the key's
 * content nor its length nor its position in the list leaks through timing.
 */
export class Authenticator {
  private readonly keys: KeyEntry[];
  private readonly admin: { user: Buffer; password: Buffer } | null;
  private readonly cache = new WeakMap<FastifyRequest, Principal | null>();

  constructor(api: Config['api']) {
    this.keys = api.keys.map((k) => ({
      hash: sha256(k.key),
      principal: { id: k.id, kind: 'api-key', scopes: expand(k.scopes) },
    }));
    this.admin =
      api.adminUser && api.adminPassword ? { user: sha256(api.adminUser), password: sha256(api.adminPassword) } : null;
  }

  byKey(presented: string): Principal | null {
    const h = sha256(presented);
    let found: Principal | null = null;
    for (const k of this.keys) if (timingSafeEqual(h, k.hash) && found === null) found = k.principal;
    return found;
  }

  private byBasic(user: string, password: string): Principal | null {
    if (this.admin) {
      const userOk = timingSafeEqual(sha256(user), this.admin.user);
      const passOk = timingSafeEqual(sha256(password), this.admin.password);
      if (userOk && passOk) return { id: 'admin-user', kind: 'basic', scopes: expand(['admin']) };
    }
    // A browser can also use an API key as the basic-auth password (any user name).
    return this.byKey(password);
  }

  /** The credentials of a request: `undefined` when it carries none. */
  static presented(req: FastifyRequest): { kind: 'key'; value: string } | { kind: 'basic'; user: string; password: string } | undefined {
    const auth = req.headers.authorization;
    if (typeof auth === 'string') {
      const m = /^(\w+)\s+(.+)$/.exec(auth.trim());
      if (m?.[1]?.toLowerCase() === 'bearer' && m[2]) return { kind: 'key', value: m[2] };
      if (m?.[1]?.toLowerCase() === 'basic' && m[2]) {
        const decoded = Buffer.from(m[2], 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        if (i >= 0) return { kind: 'basic', user: decoded.slice(0, i), password: decoded.slice(i + 1) };
      }
      return { kind: 'key', value: '' };
    }
    const x = req.headers['x-api-key'];
    if (typeof x === 'string') return { kind: 'key', value: x };
    return undefined;
  }

  /** Memoized per request (the rate limiter and the auth hook both ask). */
  resolve(req: FastifyRequest): Principal | null {
    if (this.cache.has(req)) return this.cache.get(req) ?? null;
    const cred = Authenticator.presented(req);
    const p = cred === undefined ? null : cred.kind === 'key' ? this.byKey(cred.value) : this.byBasic(cred.user, cred.password);
    this.cache.set(req, p);
    return p;
  }
}

/** Scope a request needs: the route's `config.auth`, else by URL, else `admin`. */
function requiredAuth(req: FastifyRequest, metricsPublic: boolean): RouteAuth {
  const configured = req.routeOptions.config?.auth;
  if (configured) return configured;
  const path = req.url.split('?')[0] ?? '';
  if (path === '/metrics') return metricsPublic ? 'public' : 'read';
  if (path === '/docs' || path.startsWith('/docs/')) return 'read';
  // Unknown URL: a key is still needed (no route discovery for anonymous callers).
  if (req.routeOptions.url === undefined) return 'read';
  return 'admin';
}

/**
 * Answers are sent from the hook (not thrown) so that routes with their own error handler
 * (Bull Board's) still answer 401/403 problem+json.
 *
 * API keys (`Authorization: Bearer <key>` or `x-api-key`) and HTTP basic auth (Bull Board
 * admin user, or any user with an API key as the password) for browsers.
 * 401 without valid credentials (with a `WWW-Authenticate` challenge), 403 with too little scope.
 */
export const authPlugin = fp(
  async (app, opts: { authenticator: Authenticator }) => {
    const authn = opts.authenticator;
    app.decorateRequest('principal', null);
    app.addHook('onRequest', (req, reply, done) => {
      const need = requiredAuth(req, app.config.api.metricsPublic);
      if (need === 'public') return done();
      const principal = authn.resolve(req);
      if (!principal) {
        // Browsers prompt for a password on a Basic challenge: only the pages meant for them
        // send one; API routes challenge for a bearer key (RFC 6750).
        reply.header('www-authenticate', BROWSER_PATH.test(req.url) ? 'Basic realm="myfinance-backup", charset="UTF-8"' : 'Bearer realm="myfinance-backup"');
        const err = Authenticator.presented(req) !== undefined ? new InvalidCredentialsError() : new UnauthorizedError();
        void sendProblem(reply, problem(req, err.status, err.code, err.message));
        return;
      }
      req.principal = principal;
      if (!principal.scopes.has(need)) {
        const err = new ForbiddenError(need);
        void sendProblem(reply, problem(req, err.status, err.code, err.message));
        return;
      }
      done();
    });
  },
  { name: 'mfb-auth', fastify: '5.x', dependencies: ['mfb-problem', 'mfb-deps'] },
);
