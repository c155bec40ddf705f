import type { FastifyPluginAsync } from 'fastify';
import type { HealthService } from '../../services/health.js';
import type { BackupRecord } from '@mfb/catalog';
import { renderStatusPage, type ChainView, type StatusPageData } from './render.js';

/** Backups per database drawn in the size trend. */
const TREND = 20;

/** Only this page's own inline CSS and SVG: no script, nothing from elsewhere. */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * `/status`: a server-rendered page for people (a phone included): each database's health,
 * last backup, size trend, next run, recent failures and the queues. Same auth as `/docs`
 * (a key with `read`, or basic auth in a browser).
 */
const statusPage: FastifyPluginAsync<{ service: HealthService; version: string }> = async (app, opts) => {
  // Size trends read every backup's record: reused for `health.cacheSeconds`, like the report.
  let trends: { at: number; sizes: StatusPageData['sizes']; chains: Map<string, ChainView> } | undefined;
  const sizeTrends = async (): Promise<{ sizes: StatusPageData['sizes']; chains: Map<string, ChainView> }> => {
    if (trends && Date.now() - trends.at < app.config.health.cacheSeconds * 1000) return trends;
    const chains = new Map<string, ChainView>();
    const sizes = new Map(
      await Promise.all(
        app.config.databases.map(async (db) => {
          const page = await app.catalog.listBackups({ databaseId: db.id, limit: TREND });
          const chain = await chainOf(db.id, page.items);
          if (chain) chains.set(db.id, chain);
          return [db.id, page.items.map((b) => ({ createdAt: b.createdAt, sizeBytes: b.sizeBytes })).reverse()] as const;
        }),
      ),
    );
    trends = { at: Date.now(), sizes, chains };
    return trends;
  };
  /** The chain of the newest live backup (formatVersion 2), its base's date from the catalog. */
  const chainOf = async (databaseId: string, recent: readonly BackupRecord[]): Promise<ChainView | null> => {
    const newest = recent.find((b) => b.locations.some((l) => l.deletedAt === null)) ?? (await app.catalog.listBackups({ databaseId, status: 'available', limit: 1 })).items[0];
    const c = newest?.manifest.chain;
    if (!newest || !c) return null;
    const base = recent.find((b) => b.backupId === c.baseId) ?? (await app.catalog.getBackup(c.baseId));
    return { length: newest.manifest.chainLength ?? 0, baseCreatedAt: base?.createdAt ?? newest.createdAt, fullBytes: c.baseArtifactBytes, deltaBytes: c.deltaArtifactBytes };
  };

  app.get('/status', { config: { auth: 'read' }, schema: { hide: true } }, async (_req, reply) => {
    const [report, queues, jobs] = await Promise.all([
      opts.service.report(),
      Promise.all(app.queues.all().map(async (q) => ({ name: q.name, counts: await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children') }))),
      app.catalog.listJobs({ limit: 200 }),
    ]);
    const { sizes, chains } = await sizeTrends();
    for (const q of queues) q.counts['waiting'] = (q.counts['waiting'] ?? 0) + (q.counts['prioritized'] ?? 0) + (q.counts['waiting-children'] ?? 0);
    const failures = jobs.filter((j) => j.state === 'failed').slice(0, 10).map((j) => ({ databaseId: j.databaseId, name: j.name, finishedAt: j.finishedAt, error: j.error, jobId: j.jobId }));
    const html = renderStatusPage({ report, sizes, chains, queues, failures, version: opts.version }, app.now());
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(html);
  });
};

export default statusPage;
