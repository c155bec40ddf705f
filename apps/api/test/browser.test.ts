import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createClient } from '@mfb/client';
import { ADMIN_PASSWORD, ADMIN_USER, KEYS, REDIS_URL, startTestApp, type TestApp } from './helpers.js';

/**
 * Bull Board and Swagger UI in headless Chromium. Needs /usr/bin/chromium
 * (`apt-get install -y chromium`); skipped with a message when it is absent.
 * Screenshots go to test-artifacts/ at the repository root.
 */
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);

const ARTIFACTS = resolve(import.meta.dirname, '../../../test-artifacts');

describe.skipIf(!haveChromium)('browser: Bull Board and Swagger UI', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let worker: Worker;
  let completedJobId: string;
  let failedJobId: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    t = await startTestApp();
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    // A job that ran to completion, so the board has something to show.
    worker = new Worker('backup', async (job) => {
      await job.updateProgress({ stage: 'store', bytesDone: 100, bytesTotal: 100 });
      if (job.data.databaseId === 'other') throw new Error('simulated storage outage');
      return { backupId: 'demo' };
    }, { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix: t.queues.prefix });
    const client = createClient({ baseUrl: base, apiKey: KEYS.write });
    const acc = await client.triggerBackup('main');
    completedJobId = (await client.waitForJob(acc.jobId, { timeoutMs: 30_000, intervalMs: 50 })).id;
    const failing = await client.triggerBackup('other');
    failedJobId = failing.jobId;
    await client.waitForJob(failing.jobId, { timeoutMs: 30_000, intervalMs: 50 }).catch(() => undefined);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.close();
    await t?.close();
  });

  it('Bull Board refuses a browser without credentials (401)', async () => {
    const ctx = await browser.newContext();
    // The browser gets a Basic challenge it cannot answer: navigation fails...
    const page = await ctx.newPage();
    const nav = await page.goto(`${base}/admin/queues`).catch((e: Error) => e);
    expect(nav).toBeInstanceOf(Error);
    expect((nav as Error).message).toContain('ERR_INVALID_AUTH_CREDENTIALS');
    // ...and the answer underneath is a 401 problem with the challenge.
    const res = await ctx.request.get(`${base}/admin/queues`);
    expect(res.status()).toBe(401);
    expect(res.headers()['www-authenticate']).toContain('Basic');
    expect(res.headers()['content-type']).toContain('application/problem+json');
    await ctx.close();
  });

  it('Bull Board with the admin credentials shows every queue and the completed job', async () => {
    const ctx = await browser.newContext({ httpCredentials: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
    const page = await ctx.newPage();
    const res = await page.goto(`${base}/admin/queues`);
    expect(res?.status()).toBe(200);
    for (const q of ['backup', 'upload', 'prune', 'restore', 'verify']) {
      await page.getByText(q, { exact: true }).first().waitFor({ timeout: 30_000 });
    }
    await page.screenshot({ path: join(ARTIFACTS, 'bull-board-overview.png'), fullPage: true });

    await page.goto(`${base}/admin/queues/queue/backup?status=completed`);
    await page.getByText(completedJobId).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'bull-board-completed-job.png'), fullPage: true });
    await page.getByText('Progress', { exact: true }).first().click();
    await page.screenshot({ path: join(ARTIFACTS, 'bull-board-job-progress.png'), fullPage: true });

    // A failed job shows its reason and can be retried from the board.
    await page.goto(`${base}/admin/queues/queue/backup?status=failed`);
    await page.getByText(failedJobId).first().waitFor({ timeout: 30_000 });
    await page.getByText('simulated storage outage').first().waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: /retry/i }).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'bull-board-failed-job.png'), fullPage: true });
    await ctx.close();
  });

  it('Swagger UI loads with credentials and lists the API; refuses without', async () => {
    const anon = await browser.newContext();
    const p0 = await anon.newPage();
    expect(await p0.goto(`${base}/docs`).catch((e: Error) => e.message)).toContain('ERR_INVALID_AUTH_CREDENTIALS');
    expect((await anon.request.get(`${base}/docs`)).status()).toBe(401);
    await anon.close();

    const ctx = await browser.newContext({ httpCredentials: { username: 'dashboard', password: KEYS.read } });
    const page = await ctx.newPage();
    const res = await page.goto(`${base}/docs`);
    expect(res?.status()).toBeLessThan(400);
    await page.getByText('MyFinance Backup API').first().waitFor({ timeout: 30_000 });
    await page.getByText('/v1/databases/{databaseId}/backups/').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'swagger-ui.png'), fullPage: true });
    await ctx.close();
  });
});
