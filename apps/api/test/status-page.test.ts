/**
 * `/status` in Debian's headless Chromium at phone width: each database's health, last
 * backup, incremental chain, size trend (inline SVG), next run, recent failures and queue state; same auth as
 * `/docs`. Screenshot: test-artifacts/status-page.png. Skipped when /usr/bin/chromium is absent.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { enqueue } from '@mfb/jobs';
import { fakeChain, fakeManifest, KEYS, startTestApp, type TestApp } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`status page browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);

const ARTIFACTS = resolve(import.meta.dirname, '../../../test-artifacts');
const H = 3600_000;

describe('status page', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await startTestApp();
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const now = Date.now();
    // main: hourly, a growing backup every hour (healthy). other: its last backup is a day old
    // and its last three backups failed (critical).
    await t.catalog.upsertSchedule({ databaseId: 'main', scheduleId: 'hourly', job: 'backup', cron: '0 * * * *', timezone: 'UTC', paused: false, origin: 'api' });
    await t.catalog.upsertSchedule({ databaseId: 'other', scheduleId: 'hourly', job: 'backup', cron: '30 * * * *', timezone: 'UTC', paused: false, origin: 'api' });
    for (let i = 12; i >= 1; i--) {
      await t.catalog.recordBackup(fakeManifest('main', new Date(now - i * 0.25 * H), 1_000_000 + (12 - i) * 80_000 + (i % 3) * 30_000), { target: 'local', artifactKey: `main/${i}` });
    }
    // other's backups are an incremental chain: a full 27 h ago and 3 hourly deltas.
    for (const m of fakeChain('other', new Date(now - 27 * H), 3, 5_000_000, 40_000)) await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    for (let i = 3; i >= 1; i--) {
      await t.catalog.recordJob({
        jobId: `backup-fail-${i}`,
        queue: 'backup',
        name: 'backup',
        databaseId: 'other',
        state: 'failed',
        attempts: 5,
        startedAt: new Date(now - i * H).toISOString(),
        finishedAt: new Date(now - i * H).toISOString(),
        error: 'STORAGE_DISK_FULL: no space left on the local volume',
        result: null,
      });
    }
    // Something waiting in the backup queue (no worker runs in this test).
    await enqueue(t.queues, 'backup', { databaseId: 'main', trigger: 'api' });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('needs the same credentials as /docs (401 with a Basic challenge; read scope is enough)', async () => {
    const anon = await t.app.inject({ url: '/status' });
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['www-authenticate']).toMatch(/^Basic realm=/);
    const ok = await t.app.inject({ url: '/status', headers: { authorization: `Bearer ${KEYS.read}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toContain('text/html');
    expect(ok.headers['content-security-policy']).toContain("default-src 'none'");
    // Nothing is loaded from elsewhere: no script, no external stylesheet or image.
    expect(ok.body).not.toMatch(/<script|<link |src="http/);
  });

  describe.skipIf(!haveChromium)('in Chromium at phone width', () => {
    let browser: Browser;
    beforeAll(async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      });
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });

    it('shows health, last backup, size trend, next run, failures and queues; fits a phone screen', async () => {
      const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, httpCredentials: { username: 'dashboard', password: KEYS.read } });
      const page = await ctx.newPage();
      const res = await page.goto(`${base}/status`);
      expect(res?.status()).toBe(200);
      await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });

      expect(await page.getAttribute('[data-overall]', 'data-overall')).toBe('critical');
      const other = page.locator('article[data-database="other"]');
      expect(await other.getAttribute('data-status')).toBe('critical');
      const otherText = await other.innerText();
      expect(otherText).toContain('the last 3 backups failed');
      expect(otherText).toMatch(/last successful backup is 24\.0 h old/);
      expect(otherText).toMatch(/Next run\s+in \d+ (min|s)/);
      // The chain a restore of the newest backup reads: length, base date, delta vs full bytes.
      expect(otherText).toMatch(/Chain\s+full \+ 3 deltas · base 27 h ago · deltas 117 KiB \(2% of the full's 4\.8 MiB\)/);
      const main = page.locator('article[data-database="main"]');
      expect(await main.getAttribute('data-status')).toBe('ok');
      const mainText = await main.innerText();
      expect(mainText).not.toContain('Chain');
      expect(mainText).toMatch(/Last backup\s+\d+ min ago · 1\.\d MiB/);
      // The size trend: one point per backup, drawn inline.
      const points = (await main.locator('svg.spark polyline').getAttribute('points'))!.trim().split(' ');
      expect(points).toHaveLength(12);
      // Critical first.
      expect(await page.locator('article[data-database]').first().getAttribute('data-database')).toBe('other');

      const failures = await page.locator('.failures li').allInnerTexts();
      expect(failures).toHaveLength(3);
      expect(failures[0]).toContain('STORAGE_DISK_FULL');
      const backupRow = await page.locator('table.queues tr', { hasText: 'backup' }).innerText();
      expect(backupRow.split(/\s+/).slice(0, 2)).toEqual(['backup', '1']);

      // Readable on a phone: nothing wider than the screen, text not shrunk.
      // A string: the test's TypeScript has no DOM types.
      const widths = (await page.evaluate(
        "({ doc: document.documentElement.scrollWidth, view: window.innerWidth, font: parseFloat(getComputedStyle(document.body).fontSize), table: document.querySelector('table.queues').getBoundingClientRect().right })",
      )) as { doc: number; view: number; font: number; table: number };
      expect(widths.doc).toBeLessThanOrEqual(widths.view);
      expect(widths.font).toBeGreaterThanOrEqual(14);
      // The queue table fits without scrolling sideways.
      expect(widths.table).toBeLessThanOrEqual(widths.view);
      await ctx.close();
    });
  });
});
