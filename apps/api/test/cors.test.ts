import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KEYS, startTestApp, type TestApp } from './helpers.js';

/**
 * CORS for the dashboard, over real connections: an explicit allow-list (`api.corsOrigins`),
 * preflights answered before auth, disallowed origins get no CORS headers (and a 403 preflight),
 * never `*`. The last test drives headless Chromium, which enforces CORS itself.
 */
const DASHBOARD = 'https://dashboard.example.org';

let t: TestApp | undefined;
let pages: Server | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  await new Promise((r) => (pages ? pages.close(r) : r(undefined)));
  pages = undefined;
});

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(base: string, method: string, path: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function listen(corsOrigins: string[]): Promise<string> {
  t = await startTestApp({ api: { corsOrigins } });
  return t.app.listen({ host: '127.0.0.1', port: 0 });
}

const preflight = (origin: string) => ({
  origin,
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'authorization, content-type',
});

describe('CORS', () => {
  it('by default no origin is allowed: preflights are 403 problem+json, answers carry no CORS headers', async () => {
    const base = await listen([]);
    const pre = await send(base, 'OPTIONS', '/v1/databases/main/backups', preflight(DASHBOARD));
    expect(pre.status).toBe(403);
    expect(pre.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(pre.body)).toMatchObject({ code: 'CORS_ORIGIN_NOT_ALLOWED' });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const get = await send(base, 'GET', '/v1/databases', { origin: DASHBOARD, authorization: `Bearer ${KEYS.read}` });
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('an allowed origin gets its preflight answered (before auth) and may read answers and errors', async () => {
    const base = await listen([DASHBOARD, 'http://127.0.0.1:3000']);
    const pre = await send(base, 'OPTIONS', '/v1/databases/main/backups', preflight(DASHBOARD));
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(String(pre.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(pre.headers['access-control-allow-headers'])).toMatch(/authorization.*content-type|content-type.*authorization/);
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    expect(String(pre.headers['vary'])).toMatch(/origin/i);

    const post = await send(base, 'POST', '/v1/databases/main/backups', { origin: DASHBOARD, authorization: `Bearer ${KEYS.write}` });
    expect(post.status).toBe(202);
    expect(post.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(String(post.headers['access-control-expose-headers'])).toContain('location');

    // Errors are readable too, so the dashboard can show the problem's detail.
    const missing = await send(base, 'GET', '/v1/databases/payroll', { origin: DASHBOARD, authorization: `Bearer ${KEYS.read}` });
    expect(missing.status).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toBe(DASHBOARD);
    const noKey = await send(base, 'GET', '/v1/databases', { origin: DASHBOARD });
    expect(noKey.status).toBe(401);
    expect(noKey.headers['access-control-allow-origin']).toBe(DASHBOARD);

    // Another origin (even one differing only in scheme) gets nothing.
    const other = await send(base, 'GET', '/v1/databases', { origin: 'http://dashboard.example.org', authorization: `Bearer ${KEYS.read}` });
    expect(other.status).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect((await send(base, 'OPTIONS', '/v1/databases', preflight('https://evil.example'))).status).toBe(403);
  });

  const CHROMIUM = '/usr/bin/chromium';
  it.skipIf(!existsSync(CHROMIUM))('a browser page on an allowed origin can call the API; one on another origin cannot', async () => {
    // The dashboard stand-in: one page, reachable as two origins (127.0.0.1 and localhost).
    pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>dashboard</title>'));
    await new Promise<void>((r) => pages!.listen(0, '127.0.0.1', r));
    const port = (pages.address() as AddressInfo).port;
    const allowed = `http://127.0.0.1:${port}`;
    const api = await listen([allowed]);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'] });
    try {
      const page = await browser.newPage();
      const call = (apiBase: string) =>
        page.evaluate(
          async ({ apiBase, key }) => {
            try {
              const res = await fetch(`${apiBase}/v1/databases/main/backups`, {
                method: 'POST',
                headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
                body: '{}',
              });
              return { status: res.status, location: res.headers.get('location'), body: await res.json() };
            } catch (err) {
              return { error: String(err) };
            }
          },
          { apiBase, key: KEYS.write },
        );
      await page.goto(`${allowed}/`);
      const ok = await call(api);
      expect(ok).toMatchObject({ status: 202, location: expect.stringMatching(/^\/v1\/jobs\//), body: { queue: 'backup' } });

      await page.goto(`http://localhost:${port}/`);
      const blocked = await call(api);
      expect(blocked).toMatchObject({ error: expect.stringMatching(/Failed to fetch/) });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
