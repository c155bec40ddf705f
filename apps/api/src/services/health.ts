import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Catalog, HealthSummary } from '@mfb/catalog';
import type { Config, DatabaseConfig, HealthConfig } from '@mfb/config';
import type { StorageDriver } from '@mfb/storage';
import { describeSchedule } from './cron.js';

export type Level = 'ok' | 'warning' | 'critical';

export interface Reason {
  check: 'backup-age' | 'no-backup' | 'failures' | 'verify-age' | 'disk' | 'target' | 'host';
  status: Exclude<Level, 'ok'>;
  message: string;
}

export interface DatabaseHealthReport {
  id: string;
  status: Level;
  reasons: Reason[];
  lastSuccessAt: string | null;
  lastAttemptAt: string | null;
  lastError: string | null;
  ageSeconds: number | null;
  /** Age past which the database is critical; null when no age check applies. */
  maxAgeSeconds: number | null;
  expectedIntervalSeconds: number | null;
  nextRunAt: string | null;
  /** Finished backup jobs that failed in a row, newest first (counted up to the threshold's window). */
  consecutiveFailures: number;
  lastVerifiedAt: string | null;
}

export interface VolumeReport {
  name: 'scratch' | 'local';
  path: string;
  status: Level;
  freeBytes: number | null;
  totalBytes: number | null;
  freePercent: number | null;
  error: string | null;
}

export interface TargetReport {
  name: string;
  status: 'ok' | 'unreachable' | 'unchecked';
  checkedAt: string | null;
  error: string | null;
}

export interface HealthReport {
  status: Level;
  checkedAt: string;
  databases: DatabaseHealthReport[];
  volumes: VolumeReport[];
  targets: TargetReport[];
}

const RANK: Record<Level, number> = { ok: 0, warning: 1, critical: 2 };
export const worst = (levels: Iterable<Level>): Level => {
  let w: Level = 'ok';
  for (const l of levels) if (RANK[l] > RANK[w]) w = l;
  return w;
};

/** Thresholds of one database: the global `health` section with the database's overrides. */
export function thresholdsFor(health: HealthConfig, db: DatabaseConfig): Required<Pick<HealthConfig, 'maxAgeIntervals' | 'failedBackups' | 'verifyMaxAgeDays'>> & { maxAgeSeconds?: number } {
  const o = db.health ?? {};
  const maxAgeSeconds = o.maxAgeSeconds ?? health.maxAgeSeconds;
  return {
    maxAgeIntervals: o.maxAgeIntervals ?? health.maxAgeIntervals,
    failedBackups: o.failedBackups ?? health.failedBackups,
    verifyMaxAgeDays: o.verifyMaxAgeDays ?? health.verifyMaxAgeDays,
    ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}),
  };
}

export interface DatabaseFacts {
  id: string;
  lastSuccessAt: string | null;
  /** Newest first: the last finished backup jobs. */
  backupJobs: HealthSummary['backupJobs'];
  lastVerifiedAt: string | null;
  expectedIntervalSeconds: number | null;
  nextRunAt: string | null;
  /** Targets of the database that did not answer their probe. */
  unreachableTargets: ReadonlyArray<{ name: string; error: string | null }>;
  /** The database's `host` when no live worker serves it (its backups wait in that host's queue). */
  hostWithoutWorker?: string | null;
}

function fmtAge(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

/** One database's health from what the catalog says about it. Pure (the clock is `now`). */
export function evaluateDatabase(f: DatabaseFacts, t: ReturnType<typeof thresholdsFor>, now: Date): DatabaseHealthReport {
  const reasons: Reason[] = [];
  const nowMs = now.getTime();
  const age = f.lastSuccessAt ? Math.max(0, (nowMs - Date.parse(f.lastSuccessAt)) / 1000) : null;
  const maxAge = t.maxAgeSeconds ?? (f.expectedIntervalSeconds !== null ? Math.round(t.maxAgeIntervals * f.expectedIntervalSeconds) : null);
  if (maxAge !== null) {
    const basis = t.maxAgeSeconds !== undefined ? `the limit of ${fmtAge(maxAge)}` : `${t.maxAgeIntervals} x the schedule interval (${fmtAge(maxAge)})`;
    if (age === null) reasons.push({ check: 'no-backup', status: 'warning', message: 'no successful backup yet' });
    else if (age > maxAge) reasons.push({ check: 'backup-age', status: 'critical', message: `last successful backup is ${fmtAge(age)} old, more than ${basis}` });
    else if (age > 0.75 * maxAge) reasons.push({ check: 'backup-age', status: 'warning', message: `last successful backup is ${fmtAge(age)} old, close to ${basis}` });
  }

  const backups = f.backupJobs;
  let failures = 0;
  for (const j of backups) {
    if (j.state !== 'failed') break;
    failures++;
  }
  const lastError = backups[0]?.state === 'failed' ? backups[0].error : null;
  if (failures >= t.failedBackups) {
    reasons.push({ check: 'failures', status: 'critical', message: `the last ${failures} backups failed (limit ${t.failedBackups}): ${lastError ?? 'unknown error'}` });
  } else if (failures > 0) {
    reasons.push({ check: 'failures', status: 'warning', message: `the last backup failed${failures > 1 ? ` (${failures} in a row)` : ''}: ${lastError ?? 'unknown error'}` });
  }

  const lastVerifiedAt = f.lastVerifiedAt;
  if (t.verifyMaxAgeDays > 0) {
    const limit = t.verifyMaxAgeDays * 86_400;
    const vAge = lastVerifiedAt ? (nowMs - Date.parse(lastVerifiedAt)) / 1000 : null;
    if (vAge === null) reasons.push({ check: 'verify-age', status: 'warning', message: `no verified restore yet (expected every ${t.verifyMaxAgeDays} d)` });
    else if (vAge > 2 * limit) reasons.push({ check: 'verify-age', status: 'critical', message: `last verified restore is ${fmtAge(vAge)} old, more than twice ${t.verifyMaxAgeDays} d` });
    else if (vAge > limit) reasons.push({ check: 'verify-age', status: 'warning', message: `last verified restore is ${fmtAge(vAge)} old, more than ${t.verifyMaxAgeDays} d` });
  }

  if (f.hostWithoutWorker) {
    // A warning: the backups wait (none is lost) and a worker restart is a short gap; once they
    // are overdue, backup-age turns critical, and MfbHostWithoutWorker pages after 5 minutes.
    reasons.push({
      check: 'host',
      status: 'warning',
      message: `no live worker serves host ${f.hostWithoutWorker}: backups of this database wait in queue backup@${f.hostWithoutWorker} until one starts there (worker.host: ${f.hostWithoutWorker})`,
    });
  }

  for (const u of f.unreachableTargets) {
    reasons.push({ check: 'target', status: 'critical', message: `target ${u.name} is unreachable${u.error ? `: ${u.error}` : ''}` });
  }

  return {
    id: f.id,
    status: worst(reasons.map((r) => r.status)),
    reasons,
    lastSuccessAt: f.lastSuccessAt,
    lastAttemptAt: backups[0]?.finishedAt ?? f.lastSuccessAt,
    lastError,
    ageSeconds: age === null ? null : Math.round(age),
    maxAgeSeconds: maxAge,
    expectedIntervalSeconds: f.expectedIntervalSeconds,
    nextRunAt: f.nextRunAt,
    consecutiveFailures: failures,
    lastVerifiedAt,
  };
}

/** Volume check from statfs numbers. */
export function evaluateVolume(name: VolumeReport['name'], path: string, s: { bavail: number; blocks: number; bsize: number } | Error, minFreePercent: number): VolumeReport {
  if (s instanceof Error) return { name, path, status: 'warning', freeBytes: null, totalBytes: null, freePercent: null, error: s.message };
  const total = s.blocks * s.bsize;
  const free = s.bavail * s.bsize;
  const pct = total > 0 ? (100 * free) / total : 100;
  const status: Level = minFreePercent <= 0 ? 'ok' : pct < minFreePercent ? 'critical' : pct < 2 * minFreePercent ? 'warning' : 'ok';
  return { name, path, status, freeBytes: free, totalBytes: total, freePercent: Math.round(pct * 10) / 10, error: null };
}

/** statfs of `path`, or of its nearest existing parent (the scratch directory is created on first use). */
async function volumeStats(path: string): Promise<{ bavail: number; blocks: number; bsize: number }> {
  for (let p = path; ; p = dirname(p)) {
    try {
      return await statfs(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw err;
    }
  }
}

export interface HealthSources {
  config: Config;
  catalog: Catalog;
  storageFor(target: string): StorageDriver;
  now(): Date;
  /** Live worker processes per host (Redis); absent: the `host` check is skipped. */
  liveWorkers?(): Promise<ReadonlyMap<string, number>>;
}

/**
 * Computes `/v1/health`. Schedules' next runs, disk numbers and target probes are cached
 * (probes for `health.targetProbeCacheSeconds`, refreshed in the background), and the catalog
 * answers for every database in one call (`healthSummary`: indexed reads, no manifests).
 */
const SUMMARY_SLICE = 100;

export class HealthService {
  private readonly cron = new Map<string, { nextRunAt: Date; intervalSeconds: number } | null>();
  private readonly probes = new Map<string, { at: number; ok: boolean; error: string | null; checkedAt: string; pending?: Promise<void> }>();
  private disk: { at: number; volumes: VolumeReport[] } | undefined;
  private verifiedCache: { at: number; map: Map<string, string | null> } | undefined;
  private inFlight: Promise<HealthReport> | undefined;
  private cached: { at: number; report: HealthReport } | undefined;

  constructor(private readonly s: HealthSources) {}

  /**
   * The report, at most `health.cacheSeconds` old; past that and up to twice that, the old one
   * is answered while a new one is computed in the background (requests do not queue behind a
   * refresh). Concurrent callers share one computation.
   */
  async report(): Promise<HealthReport> {
    const ttl = this.s.config.health.cacheSeconds * 1000;
    const age = this.cached ? Date.now() - this.cached.at : Infinity;
    if (ttl > 0 && age < ttl) return this.cached!.report;
    if (ttl > 0 && age < 2 * ttl) {
      this.refresh().catch(() => undefined);
      return this.cached!.report;
    }
    return this.refresh();
  }

  private refresh(): Promise<HealthReport> {
    this.inFlight ??= this.compute()
      .then((report) => {
        this.cached = { at: Date.now(), report };
        return report;
      })
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Next run and interval of a cron, reused until that run has passed. */
  schedule(cron: string, tz: string, now: Date): { nextRunAt: Date; intervalSeconds: number } | null {
    const key = `${tz}\u0000${cron}`;
    const hit = this.cron.get(key);
    if (hit !== undefined && (hit === null || hit.nextRunAt.getTime() > now.getTime())) return hit;
    const d = describeSchedule(cron, tz, now);
    this.cron.set(key, d);
    return d;
  }

  private async compute(): Promise<HealthReport> {
    const { config, catalog } = this.s;
    const now = this.s.now();
    const [schedules, volumes, targets, live] = await Promise.all([catalog.listSchedules(), this.volumes(), this.targets(), this.liveWorkers()]);
    const byDb = new Map<string, { interval: number | null; next: Date | null }>();
    for (const sc of schedules) {
      if (sc.job !== 'backup' || sc.paused) continue;
      const d = this.schedule(sc.cron, sc.timezone, now);
      if (!d) continue;
      const cur = byDb.get(sc.databaseId) ?? { interval: null, next: null };
      if (cur.interval === null || d.intervalSeconds < cur.interval) cur.interval = d.intervalSeconds;
      if (cur.next === null || d.nextRunAt < cur.next) cur.next = d.nextRunAt;
      byDb.set(sc.databaseId, cur);
    }
    const unreachable = new Map(targets.filter((t) => t.status === 'unreachable').map((t) => [t.name, t.error]));
    const window = Math.max(...config.databases.map((db) => thresholdsFor(config.health, db).failedBackups), 1);
    const ids = config.databases.map((db) => db.id);
    const verified = await this.verified(ids);
    // In slices, so that requests are served between them (SQLite reads are synchronous).
    const summary = new Map<string, HealthSummary>();
    for (let i = 0; i < ids.length; i += SUMMARY_SLICE) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      for (const [id, v] of await catalog.healthSummary(ids.slice(i, i + SUMMARY_SLICE), { backupJobs: window, verify: false })) summary.set(id, v);
    }
    const databases = config.databases.map((db) => {
      const t = thresholdsFor(config.health, db);
      const sum = summary.get(db.id);
      const sch = byDb.get(db.id);
      return evaluateDatabase(
        {
          id: db.id,
          lastSuccessAt: sum?.lastBackupAt ?? null,
          backupJobs: sum?.backupJobs ?? [],
          lastVerifiedAt: verified.get(db.id) ?? null,
          expectedIntervalSeconds: sch?.interval ?? null,
          nextRunAt: sch?.next?.toISOString() ?? null,
          unreachableTargets: db.targets.filter((n) => unreachable.has(n)).map((n) => ({ name: n, error: unreachable.get(n) ?? null })),
          hostWithoutWorker: db.host !== undefined && live !== null && !live.has(db.host) ? db.host : null,
        },
        t,
        now,
      );
    });
    const status = worst([...databases.map((d) => d.status), ...volumes.map((v) => v.status)]);
    return { status, checkedAt: now.toISOString(), databases, volumes, targets };
  }

  /**
   * Live workers per host, when a database names a host. `null` when Redis does not answer
   * (readiness reports that; a health report is not withheld for it).
   */
  private async liveWorkers(): Promise<ReadonlyMap<string, number> | null> {
    if (!this.s.liveWorkers || !this.s.config.databases.some((db) => db.host !== undefined)) return null;
    return this.s.liveWorkers().catch(() => null);
  }

  /**
   * Last verified restore per database: the newer of the last successful verify job and the
   * last successful restore drill on any target. Reused for a minute: finding the verify may
   * walk a database's whole job history, and the thresholds are in days.
   */
  private async verified(ids: string[]): Promise<Map<string, string | null>> {
    if (this.verifiedCache && Date.now() - this.verifiedCache.at < 60_000) return this.verifiedCache.map;
    const summary = await this.s.catalog.healthSummary(ids, { backupJobs: 1, verify: true });
    const map = new Map([...summary].map(([id, v]) => [id, v.lastVerifiedAt]));
    for (const d of await this.s.catalog.listDrills()) {
      if (d.lastVerifiedAt === null || !map.has(d.databaseId)) continue;
      const cur = map.get(d.databaseId) ?? null;
      if (cur === null || Date.parse(d.lastVerifiedAt) > Date.parse(cur)) map.set(d.databaseId, d.lastVerifiedAt);
    }
    this.verifiedCache = { at: Date.now(), map };
    return map;
  }

  private async volumes(): Promise<VolumeReport[]> {
    const { config } = this.s;
    if (config.health.diskFreePercent <= 0) return [];
    if (this.disk && Date.now() - this.disk.at < 5000) return this.disk.volumes;
    const paths: Array<[VolumeReport['name'], string]> = [['scratch', config.tmpDir]];
    if (config.storageUrl.startsWith('file:')) paths.push(['local', fileURLToPath(config.storageUrl)]);
    const volumes = await Promise.all(
      paths.map(async ([name, p]) => evaluateVolume(name, p, await volumeStats(p).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))), config.health.diskFreePercent)),
    );
    this.disk = { at: Date.now(), volumes };
    return volumes;
  }

  /** Cached probe results; a stale one is refreshed in the background (a missing one is waited for). */
  private async targets(): Promise<TargetReport[]> {
    const { config } = this.s;
    if (!config.health.targetProbe) return config.targets.map((t) => ({ name: t.name, status: 'unchecked', checkedAt: null, error: null }));
    const ttl = config.health.targetProbeCacheSeconds * 1000;
    const first: Array<Promise<void>> = [];
    for (const t of config.targets) {
      const p = this.probes.get(t.name);
      if (p && (Date.now() - p.at < ttl || p.pending)) continue;
      const run = this.probe(t.name);
      // The first probe of a target, and every probe when caching is off, is waited for.
      if (!p || ttl === 0) first.push(run);
    }
    await Promise.all(first);
    return config.targets.map((t) => {
      const p = this.probes.get(t.name);
      return p ? { name: t.name, status: p.ok ? 'ok' : 'unreachable', checkedAt: p.checkedAt, error: p.error } : { name: t.name, status: 'unchecked', checkedAt: null, error: null };
    });
  }

  /**
   * A `file://` target must be an existing directory (a missing NAS mount reads as an empty
   * directory tree to the driver); others answer a `head` of a key that does not exist.
   */
  private async probeOnce(name: string): Promise<void> {
    const url = this.s.config.targets.find((t) => t.name === name)?.url ?? '';
    if (url.startsWith('file:')) {
      const root = fileURLToPath(url);
      const st = await stat(root).catch((err: unknown) => {
        throw new Error(`${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      });
      if (!st.isDirectory()) throw new Error(`${root} is not a directory`);
      return;
    }
    await this.s.storageFor(name).head('.mfb-health-probe');
  }

  private probe(name: string): Promise<void> {
    const timeoutMs = this.s.config.health.targetProbeTimeoutMs;
    const prev = this.probes.get(name);
    let timer: NodeJS.Timeout | undefined;
    const pending = Promise.race([
      Promise.resolve()
        .then(() => this.probeOnce(name))
        .then(() => null),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs))),
    ])
      .catch((err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 200))
      .then((error) => {
        clearTimeout(timer);
        this.probes.set(name, { at: Date.now(), ok: error === null, error, checkedAt: new Date().toISOString() });
      });
    if (prev) prev.pending = pending;
    return pending;
  }
}
