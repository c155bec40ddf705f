/**
 * Chaos suite (issue #11, docs/reliability.md): a fleet of finance databases under a writer,
 * two worker processes, the API, its own Redis (AOF) and an S3 server, and one injected fault
 * per round. After every round the invariants are checked; a table of figures is printed at
 * the end.
 *
 * Runs with `pnpm test:chaos` (MFB_CHAOS=1; CHAOS_ROUNDS, default 20; CHAOS_SEED). In the
 * ordinary `pnpm test` run it is skipped: ./scripts/test runs it as its own bounded step.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_SUFFIX, PIN_SUFFIX, restoreBackup, verifyBackup } from '@mfb/backup';
import type { Catalog } from '@mfb/catalog';
import { DEFAULTS, type Config } from '@mfb/config';
import { generateFinanceDb, prng } from '@mfb/demo-data';
import { JOB_NAMES, closeQueues, createQueues, createRedis, enqueueBackupNow, type Queues } from '@mfb/jobs';
import { createStorages, openMigratedCatalog } from '@mfb/runtime';
import { TEMP_PREFIX, type StorageDriver } from '@mfb/storage';
import { canMountTmpfs, freePort, mountTmpfs, ownRedis, startFaultProxy, startS3rver, testConfig, type FaultProxy, type OwnRedis, type S3TestServer } from '@mfb/testkit';
import { describeOverlap, findOverlaps, intervalsFromHistory, type HistoryRow, type JobInterval } from './overlap.js';
import { API_MAIN, Proc, WORKER_MAIN, WRITER, runCli, startSwitch, type LogLine, type Switch } from './procs.js';

const ENABLED = process.env.MFB_CHAOS === '1';
const ROUNDS = Number(process.env.CHAOS_ROUNDS ?? 20);
/** No new round starts after this many ms (./scripts/test bounds the run with it). */
const BUDGET_MS = Number(process.env.CHAOS_BUDGET_MS ?? 0) || Infinity;
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
const DATABASES = Number(process.env.CHAOS_DATABASES ?? 4);
const WORKERS = 2;
/** The worker reclaims manifest-less artifacts (issue #11 defect 7) once this config option exists. */
const ORPHAN_RECLAIM = 'orphanArtifactAgeMs' in DEFAULTS;
/**
 * Overlap allowed between catalog lock times (default 0). The catalog stamps lockReleasedAt
 * after the release round trip (and the follow-up enqueues sent with it), so a follow-up that
 * takes the lock at once shows a few ms of overlap there; the workers' own record does not.
 */
/**
 * Slack for the catalog's lock stamps only (ms wall-clock stamps taken around Redis round
 * trips). When a fault deletes the lock key (FLUSHALL, a Redis restart without the key), the
 * holder's release stamp can trail the next holder's acquisition by a millisecond or two after
 * its work is done (seen: 1 ms). The workers' own recorded work intervals are checked with no
 * slack, and writes after a lost lock are counted as fence violations.
 */
const HISTORY_TOLERANCE_MS = Number(process.env.CHAOS_HISTORY_TOLERANCE_MS ?? 5);
/** Count known gaps as violations too (see `unlistedAfterFlush`). */
const STRICT = process.env.CHAOS_STRICT === '1';
const LOCK_TTL_MS = 2000;
const API_KEY = `chaos-api-${randomBytes(12).toString('hex')}`;
const ADMIN_PASSWORD = `chaos-admin-${randomBytes(12).toString('hex')}`;

const FAULTS = [
  'kill-worker-backup',
  'kill-worker-upload',
  'kill-worker-prune',
  'kill-worker-restore',
  'kill-api',
  'stop-worker',
  'redis-restart',
  'storage-faults',
  'scratch-full',
  'catalog-deleted',
  'flushall',
] as const;
type Fault = (typeof FAULTS)[number];

interface Figures {
  rounds: number;
  faults: Record<string, number>;
  jobsRetried: number;
  jobsStalled: number;
  jobsAborted: number;
  backupsTaken: number;
  backupsLost: number;
  restoresChecked: number;
  corruptInjected: number;
  corruptVisible: number;
  proxyConnections: number;
  switchCuts: number;
  proxyResets: number;
  proxyDelays: number;
  fenceViolations: number;
  jobsFenced: number;
  overlaps: number;
  historyIntervals: number;
  orphans: number;
  orphansLeaked: number;
  catalogMismatches: number;
  unlistedAfterFlush: number;
  /** Complete but unrecorded backups on the primary storage, adopted by the next backup job. */
  unlistedAdopted: number;
  /** Of `unlistedAfterFlush`, the copies a later upload job of that database adopted. */
  unlistedTargetAdopted: number;
  scratchLeft: number;
  schedulesBackAfterFlush: string;
  secretsInLogs: number;
  skipped: string[];
}

describe.runIf(ENABLED)('chaos: a fleet of databases under faults', () => {
  let root = '';
  let logDir = '';
  let redis: OwnRedis;
  let s3: S3TestServer;
  let sw: Switch;
  let config: Config;
  let configFile = '';
  let recordFile = '';
  let apiPort = 0;
  let keyB64 = '';
  let unmountScratch: (() => void) | undefined;
  let writer: Proc | undefined;
  let api: Proc | undefined;
  let workers: Proc[] = [];
  const allProcs: Proc[] = [];
  const dbIds = Array.from({ length: DATABASES }, (_, i) => `db${String(i + 1).padStart(2, '0')}`);
  const rand = prng(SEED);
  const violations: string[] = [];
  /** Newest backup of each database a completed backup job reported (what must never be lost). */
  const newestKnown = new Map<string, { backupId: string; createdAt: string }>();
  const allKnownBackups = new Set<string>();
  const reportedOverlaps = new Set<string>();
  /** Complete backups the catalog did not list, by the round they were first seen. */
  const unlistedSeen = new Map<string, number>();
  /** Manifest-less artifacts seen, by `<target>:<key>`, with the round they were first seen in. */
  const orphansSeen = new Map<string, number>();
  /** Lock-holding intervals from the catalog's job history (kept across the catalog's deletion). */
  const historyIntervals = new Map<string, JobInterval>();
  /** `<backupId>@<target>` copies already restored and checked. */
  const restored = new Set<string>();
  /** Jobs whose worker was SIGSTOPped past the lock TTL: [pid, jobId, resumedAt]. */
  const fenced: Array<{ pid: number; jobId: string; resumedAt: number }> = [];
  let flushCheck: Promise<string> | undefined;
  const fig: Figures = {
    rounds: 0,
    faults: {},
    jobsRetried: 0,
    jobsStalled: 0,
    jobsAborted: 0,
    backupsTaken: 0,
    backupsLost: 0,
    restoresChecked: 0,
    corruptInjected: 0,
    corruptVisible: 0,
    proxyConnections: 0,
    switchCuts: 0,
    proxyResets: 0,
    proxyDelays: 0,
    fenceViolations: 0,
    jobsFenced: 0,
    overlaps: 0,
    historyIntervals: 0,
    orphans: 0,
    orphansLeaked: 0,
    catalogMismatches: 0,
    unlistedAfterFlush: 0,
    unlistedAdopted: 0,
    unlistedTargetAdopted: 0,
    scratchLeft: 0,
    schedulesBackAfterFlush: 'not tested',
    secretsInLogs: 0,
    skipped: [],
  };

  const between = (lo: number, hi: number): number => Math.floor(lo + rand() * (hi - lo));
  const logFile = (name: string): string => join(logDir, `${name}.log`);

  function spawnWorker(): Proc {
    const n = allProcs.filter((p) => p.name.startsWith('worker')).length;
    const p = new Proc(`worker-${n}`, WORKER_MAIN, ['--config', configFile, '--test-only-record', recordFile, '--test-only-throttle-bps', '300000'], logFile(`worker-${n}`));
    allProcs.push(p);
    return p;
  }
  async function startWorkers(count: number): Promise<void> {
    const fresh = Array.from({ length: count }, () => spawnWorker());
    workers.push(...fresh);
    await Promise.all(fresh.map((w) => w.waitForLog((l) => l.msg === 'worker ready', 60_000)));
  }
  async function startApi(): Promise<void> {
    const n = allProcs.filter((p) => p.name.startsWith('api')).length;
    api = new Proc(`api-${n}`, API_MAIN, ['--config', configFile], logFile(`api-${n}`));
    allProcs.push(api);
    const a = api;
    for (let i = 0; i < 600; i++) {
      if (!a.alive) throw new Error(`api exited: ${a.stderr}`);
      const ok = await fetch(`http://127.0.0.1:${apiPort}/health/live`).then((r) => r.ok, () => false);
      if (ok) return;
      await sleep(100);
    }
    throw new Error('api did not start');
  }

  /** Producer queues on the suite's Redis; reopened after a Redis restart or FLUSHALL. */
  let producer: { redis: ReturnType<typeof createRedis>; queues: Queues } | undefined;
  function queues(): Queues {
    if (!producer) {
      const r = createRedis(config.redis, 'producer');
      r.on('error', () => undefined);
      const q = createQueues(r, config.redis.prefix);
      // Connection errors while Redis restarts are expected; the calls themselves fail and are retried.
      for (const n of JOB_NAMES) q[n].on('error', () => undefined);
      producer = { redis: r, queues: q };
    }
    return producer.queues;
  }

  /** "Back up now" for every database: through the API when it answers, else straight to the queue. */
  async function triggerBackups(): Promise<void> {
    for (const id of dbIds) {
      const viaApi = await fetch(`http://127.0.0.1:${apiPort}/v1/databases/${id}/backups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(5000),
      }).then(
        async (r) => {
          const body = await r.text();
          if (r.status >= 500) violations.push(`API answered ${r.status} to a backup request: ${body.slice(0, 200)}`);
          return r.status === 202;
        },
        () => false,
      );
      if (!viaApi) await retry(() => enqueueBackupNow(queues(), { databaseId: id }), 'enqueue backup');
    }
  }

  async function triggerRestore(): Promise<boolean> {
    const id = dbIds[between(0, dbIds.length)]!;
    const known = newestKnown.get(id);
    if (!known) return false;
    const targetPath = join(root, 'restores', `${id}-${Date.now()}.db`);
    const r = await fetch(`http://127.0.0.1:${apiPort}/v1/databases/${id}/restores`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ backupId: known.backupId, mode: 'new', targetPath }),
    }).catch(() => null);
    return r?.status === 202;
  }

  async function retry<T>(fn: () => Promise<T>, what: string, tries = 50): Promise<T> {
    let last: unknown;
    for (let i = 0; i < tries; i++) {
      try {
        return await fn();
      } catch (err) {
        last = err;
        await sleep(200);
      }
    }
    throw new Error(`${what}: ${(last as Error)?.message}`);
  }

  /** No job waiting, active, delayed (other than the schedules' next runs) in any queue, twice in a row. */
  async function quiesce(timeoutMs = 90_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let calm = 0;
    while (calm < 2) {
      if (Date.now() > until) {
        const pending: string[] = [];
        for (const n of JOB_NAMES) {
          const jobs = await queues()[n].getJobs(['waiting', 'active', 'delayed', 'prioritized']).catch(() => []);
          for (const j of jobs) if (j && !j.repeatJobKey) pending.push(`${n}:${j.id}:${JSON.stringify(j.data)}`);
        }
        throw new Error(`queues not idle after ${timeoutMs} ms: ${pending.join(', ')}`);
      }
      let busy = 0;
      try {
        for (const n of JOB_NAMES) {
          const jobs = await queues()[n].getJobs(['waiting', 'active', 'delayed', 'prioritized']);
          busy += jobs.filter((j) => j && !j.repeatJobKey).length;
        }
      } catch {
        busy = 1;
      }
      calm = busy === 0 ? calm + 1 : 0;
      await sleep(300);
    }
  }

  /** Jobs `w` has started and not ended. */
  function runningJobs(w: Proc, queue?: string): string[] {
    const ended = new Set(w.logs.filter((l) => l.msg === 'job completed' || l.msg === 'job failed' || String(l.msg).startsWith('job aborted')).map((l) => String(l.jobId)));
    return w.logs.filter((l) => l.msg === 'job started' && (queue === undefined || l.queue === queue) && !ended.has(String(l.jobId))).map((l) => String(l.jobId));
  }

  /** A worker with a job of `queue` running (started, not ended), waiting up to `timeoutMs`. */
  async function busyWorker(queue: string | undefined, timeoutMs: number): Promise<{ w: Proc; jobId: string } | undefined> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      for (const w of workers) {
        if (!w.alive) continue;
        const running = runningJobs(w, queue);
        if (running.length) return { w, jobId: running[running.length - 1]! };
      }
      await sleep(10);
    }
    return undefined;
  }

  async function killWorkerDuring(queue: string | undefined): Promise<void> {
    const hit = await busyWorker(queue, 15_000);
    const victim = hit?.w ?? workers.find((w) => w.alive)!;
    if (queue !== 'prune') await sleep(between(0, 400));
    await victim.kill();
    workers = workers.filter((w) => w !== victim);
    await startWorkers(1);
  }

  async function fillScratch(): Promise<string> {
    const ballast = join(config.tmpDir, 'ballast.bin');
    const s = statfsSync(config.tmpDir);
    const free = Number(s.bavail) * Number(s.bsize);
    await writeFile(ballast, Buffer.alloc(Math.max(0, free - 8 * 1024)));
    return ballast;
  }

  async function inject(fault: Fault): Promise<void> {
    switch (fault) {
      case 'kill-worker-backup':
        await triggerBackups();
        await killWorkerDuring('backup');
        break;
      case 'kill-worker-upload':
        await triggerBackups();
        await killWorkerDuring('upload');
        break;
      case 'kill-worker-prune':
        await triggerBackups();
        await killWorkerDuring('prune');
        break;
      case 'kill-worker-restore': {
        const ok = await triggerRestore();
        await triggerBackups();
        await killWorkerDuring(ok ? 'restore' : undefined);
        break;
      }
      case 'kill-api': {
        const burst = triggerBackups();
        await sleep(between(0, 300));
        await api!.kill();
        await burst;
        await startApi();
        await triggerBackups();
        break;
      }
      case 'stop-worker': {
        await triggerBackups();
        const hit = await busyWorker(rand() < 0.5 ? 'backup' : 'upload', 15_000);
        if (!hit) {
          fig.skipped.push('stop-worker: no running job caught');
          break;
        }
        hit.w.signal('SIGSTOP');
        // Log lines written before the stop are still in the pipe: let them arrive.
        await sleep(300);
        // Every job the stopped worker runs (one per queue at most) loses its lock, not only the one picked.
        const stoppedJobs = new Set([hit.jobId, ...runningJobs(hit.w)]);
        await sleep(LOCK_TTL_MS + 1200);
        hit.w.signal('SIGCONT');
        for (const jobId of stoppedJobs) fenced.push({ pid: hit.w.pid, jobId, resumedAt: Date.now() });
        break;
      }
      case 'redis-restart':
        await triggerBackups();
        await sleep(between(100, 1200));
        await redis.stop();
        await sleep(between(200, 1500));
        await redis.start();
        break;
      case 'storage-faults': {
        const proxy: FaultProxy = await startFaultProxy({ targetPort: s3.port, seed: between(1, 1e9), resetRate: 0.25, delayRate: 0.25, corruptRate: 0.3, delayMs: 700, maxFaults: 6 });
        sw.setUpstream(proxy.port);
        try {
          // Kept-alive clients make few connections: cut them every second (itself a fault:
          // resets mid-request), so that every new connection gets the proxy's dice.
          sw.setUpstream(proxy.port);
          let cutting = true;
          const churn = (async () => {
            while (cutting) {
              await sleep(between(500, 1500));
              if (cutting) fig.switchCuts += sw.setUpstream(proxy.port);
            }
          })();
          try {
            for (let wave = 0; wave < 2; wave++) {
              await triggerBackups();
              await quiesce();
            }
          } finally {
            cutting = false;
            await churn;
          }
        } finally {
          sw.setUpstream(s3.port);
          await proxy.close();
        }
        fig.corruptInjected += proxy.stats.corruptions;
        fig.proxyConnections += proxy.stats.connections;
        fig.proxyResets += proxy.stats.resets;
        fig.proxyDelays += proxy.stats.delays;
        break;
      }
      case 'scratch-full': {
        if (!unmountScratch) {
          fig.skipped.push('scratch-full: no tmpfs (needs root)');
          await triggerBackups();
          break;
        }
        const ballast = await fillScratch();
        await triggerBackups();
        await quiesce();
        await rm(ballast, { force: true });
        await triggerBackups();
        break;
      }
      case 'catalog-deleted': {
        await triggerBackups();
        await sleep(between(200, 1500));
        await Promise.all([...workers.map((w) => w.kill()), api!.kill()]);
        workers = [];
        for (const f of ['', '-wal', '-shm']) await rm(config.catalogPath + f, { force: true });
        for (const from of ['local', 's3']) {
          const r = await runCli(['--config', configFile, 'catalog', 'rebuild', '--from', from], logFile('cli'));
          if (r.code !== 0) violations.push(`catalog rebuild --from ${from} exited ${r.code}: ${r.stderr.slice(0, 500)}`);
        }
        await startWorkers(WORKERS);
        await startApi();
        break;
      }
      case 'flushall': {
        await triggerBackups();
        await sleep(between(100, 1200));
        const c = new Redis(redis.url, { maxRetriesPerRequest: 1 });
        await c.flushall();
        c.disconnect();
        const flushedAt = Date.now();
        // Schedules are desired state: the workers' reconcile (periodic, every 60 s) puts them back.
        flushCheck ??= (async () => {
          const until = flushedAt + 75_000;
          while (Date.now() < until) {
            const all = await queues().backup.getJobSchedulers(0, -1, true).catch(() => []);
            if (all.length >= dbIds.length) return `back after ${Math.round((Date.now() - flushedAt) / 1000)} s`;
            await sleep(1000);
          }
          violations.push('schedules did not come back within 75 s of FLUSHALL');
          return 'NOT back within 75 s';
        })();
        await triggerBackups();
        break;
      }
    }
  }

  async function listAll(d: StorageDriver): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await d.list('', cursor ? { cursor } : {});
      out.push(...page.items.map((i) => i.key));
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  const isArtifact = (k: string): boolean => !k.endsWith(MANIFEST_SUFFIX) && !k.endsWith(PIN_SUFFIX) && !k.split('/').some((s) => s.startsWith(TEMP_PREFIX));

  async function liveLocations(catalog: Catalog, target: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await catalog.listBackups({ target, limit: 500, ...(cursor ? { cursor } : {}) });
      for (const b of page.items) {
        const loc = b.locations.find((l) => l.target === target && l.deletedAt === null);
        if (loc) out.set(loc.artifactKey, b.backupId);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return out;
  }

  function ledgerOf(path: string): { sum: number; rows: number } {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare('SELECT COALESCE(SUM(amount_cents), 0) AS sum, COUNT(*) AS rows FROM chaos_ledger').get() as { sum: number; rows: number };
    } finally {
      db.close();
    }
  }

  /** The invariants, after a round has settled. */
  async function check(round: number, fault: string): Promise<void> {
    const tag = `round ${round} (${fault})`;
    const catalog = await openMigratedCatalog(config);
    const storages = createStorages(config);
    try {
      // What completed backup jobs reported: the newest of each database must never be lost.
      for (const id of dbIds) {
        const jobs = await catalog.listJobs({ databaseId: id, limit: 500 });
        for (const i of intervalsFromHistory(jobs as HistoryRow[], { lockTimes: 'required' })) historyIntervals.set(`${i.jobId}@${i.start}`, i);
        for (const j of jobs) {
          const backupId = (j.result as { backupId?: unknown } | null)?.backupId;
          if (j.queue !== 'backup' || j.state !== 'completed' || typeof backupId !== 'string') continue;
          if (!allKnownBackups.has(backupId)) {
            allKnownBackups.add(backupId);
            fig.backupsTaken++;
          }
          const cur = newestKnown.get(id);
          if (!cur || backupId > cur.backupId) newestKnown.set(id, { backupId, createdAt: j.finishedAt });
        }
      }
      const checkDir = await mkdtemp(join(root, 'check-'));
      await Promise.all(
        dbIds.map(async (id) => {
          const known = newestKnown.get(id);
          if (!known) {
            violations.push(`${tag}: ${id} has no completed backup yet`);
            return;
          }
          const rec = await catalog.getBackup(known.backupId);
          const live = rec?.locations.filter((l) => l.deletedAt === null) ?? [];
          if (!rec || live.length === 0) {
            fig.backupsLost++;
            violations.push(`${tag}: newest backup ${known.backupId} of ${id} is not in the catalog with a live copy`);
            return;
          }
          // One copy per round is restored (the one not restored yet, else a random one); every live copy is verified at the end.
          const fresh = live.filter((l) => !restored.has(`${known.backupId}@${l.target}`));
          const loc = (fresh.length ? fresh : live)[between(0, fresh.length || live.length)]!;
          if (!fresh.length) return;
          restored.add(`${known.backupId}@${loc.target}`);
          const target = join(checkDir, `${id}-${loc.target}.db`);
          try {
            await restoreBackup({ storage: storages.storageFor(loc.target), artifactKey: loc.artifactKey, keys: config.keys, tmpDir: checkDir, targetPath: target, mode: 'new' });
            const l = ledgerOf(target);
            fig.restoresChecked++;
            if (l.sum !== 0 || l.rows % 2 !== 0) violations.push(`${tag}: ${id} backup ${known.backupId} on ${loc.target}: ledger sum ${l.sum} over ${l.rows} rows`);
          } catch (err) {
            fig.backupsLost++;
            violations.push(`${tag}: ${id} newest backup ${known.backupId} on ${loc.target} does not restore: ${(err as Error).message}`);
          }
        }),
      );
      await rm(checkDir, { recursive: true, force: true });

      // Catalog equals storage, and no artifact without its manifest, on every storage.
      for (const target of ['local', 's3']) {
        const keys = await listAll(storages.storageFor(target));
        const set = new Set(keys);
        const artifacts = keys.filter(isArtifact);
        for (const a of artifacts) {
          if (set.has(a + MANIFEST_SUFFIX)) continue;
          // A worker killed between artifact and manifest leaves one; the next backup (primary)
          // or upload (target) of that database reclaims it once older than
          // worker.orphanArtifactAgeMs (3 s here). Still there a round later: it leaked.
          const id = `${target}:${a}`;
          if (!orphansSeen.has(id)) {
            orphansSeen.set(id, round);
            fig.orphans++;
          } else if (orphansSeen.get(id)! < round) {
            fig.orphansLeaked++;
            violations.push(`${tag}: ${target}: artifact ${a} has no manifest since round ${orphansSeen.get(id)}`);
            orphansSeen.set(id, Number.POSITIVE_INFINITY);
          }
        }
        const withManifest = new Set(artifacts.filter((a) => set.has(a + MANIFEST_SUFFIX)));
        const cat = await liveLocations(catalog, target);
        for (const k of cat.keys()) {
          if (!withManifest.has(k)) {
            fig.catalogMismatches++;
            violations.push(`${tag}: ${target}: catalog lists ${k} (${cat.get(k)}) that storage does not hold`);
          }
        }
        for (const k of withManifest) {
          if (cat.has(k)) {
            // Unlisted on a target in an earlier round, listed now: adopted by an upload job.
            const key = `${target}:${k}`;
            if (target !== 'local' && Number.isFinite(unlistedSeen.get(key) ?? Number.POSITIVE_INFINITY)) {
              fig.unlistedTargetAdopted++;
              unlistedSeen.set(key, Number.POSITIVE_INFINITY);
            }
            continue;
          }
          // A FLUSHALL (or a lost lock) between the manifest and the catalog record aborts the
          // backup and drops its job, so nothing re-runs it: the backup is complete in storage but
          // unlisted. On the primary storage the next backup job of that database adopts it
          // (runner: rebuildFromStorage onlyUnknown); still unlisted two rounds later is a
          // violation. On a target the next upload job of that database to that target adopts
          // it, but only if one comes (counted; CHAOS_STRICT=1 fails one unlisted two rounds later).
          const key = `${target}:${k}`;
          const first = unlistedSeen.get(key);
          if (first === undefined) {
            unlistedSeen.set(key, round);
            if (target === 'local') fig.unlistedAdopted++;
            else if (fault === 'flushall' || STRICT) fig.unlistedAfterFlush++;
            else {
              fig.catalogMismatches++;
              violations.push(`${tag}: ${target}: storage holds ${k} that the catalog does not list`);
            }
          } else if ((target === 'local' || STRICT) && first <= round - 2) {
            fig.unlistedAdopted--;
            fig.catalogMismatches++;
            violations.push(`${tag}: ${target}: storage holds ${k} that the catalog has not listed since round ${first}`);
            unlistedSeen.set(key, Number.POSITIVE_INFINITY);
          }
        }
      }
    } finally {
      await catalog.close();
    }
    // No two jobs of one database at once (intervals the workers recorded while holding the lock).
    // ... from the catalog's job history (lock taken/released times, completed runs), and from the
    // workers' own record (every run, also failed ones).
    fig.historyIntervals = historyIntervals.size;
    const overlaps = [...findOverlaps([...historyIntervals.values()], HISTORY_TOLERANCE_MS), ...findOverlaps(recordedIntervals())];
    for (const o of overlaps) {
      const d = describeOverlap(o);
      if (reportedOverlaps.has(d)) continue;
      reportedOverlaps.add(d);
      violations.push(`${tag}: ${d}`);
    }
    fig.overlaps = overlaps.length;
  }

  /**
   * Intervals from --test-only-record (lock taken .. released), less those of jobs that lost
   * their lock and aborted (a stopped worker, a FLUSHALL): they ran on past the loss until the
   * abort, which the overlap audit cannot tell from holding; they are checked on their own
   * (never completed after the loss).
   */
  function recordedIntervals(): JobInterval[] {
    if (!existsSync(recordFile)) return [];
    const lockLost = new Set<string>();
    for (const p of allProcs) for (const l of p.logs) if (String(l.msg).startsWith('job aborted') && /lock/i.test(String(l.reason))) lockLost.add(`${p.pid}:${String(l.jobId)}`);
    const out: JobInterval[] = [];
    for (const line of readFileSync(recordFile, 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line) as { jobId: string; queue: string; databaseId: string; start: number; end: number; pid: number; outcome: string };
      if (r.outcome !== 'completed' && (lockLost.has(`${r.pid}:${r.jobId}`) || fenced.some((f) => f.pid === r.pid && f.jobId === r.jobId))) continue;
      out.push({ databaseId: r.databaseId, jobId: r.jobId, queue: r.queue, start: r.start, end: r.end, source: `worker ${r.pid} (${r.outcome})` });
    }
    return out;
  }

  function countLogs(pred: (l: LogLine) => boolean): number {
    return allProcs.reduce((n, p) => n + p.logs.filter(pred).length, 0);
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mfb-chaos-'));
    logDir = join(root, 'logs');
    await mkdir(logDir, { recursive: true });
    await mkdir(join(root, 'restores'), { recursive: true, mode: 0o700 });
    recordFile = join(root, 'intervals.jsonl');
    redis = await ownRedis();
    s3 = await startS3rver('mfb-chaos');
    sw = await startSwitch(s3.port);
    apiPort = await freePort();
    keyB64 = randomBytes(32).toString('base64');
    await writeFile(join(root, 'k1.key'), keyB64 + '\n', { mode: 0o600 });
    const dbPaths: string[] = [];
    for (const [i, id] of dbIds.entries()) {
      const p = join(root, 'live', `${id}.db`);
      await mkdir(join(root, 'live'), { recursive: true });
      await generateFinanceDb(p, { sizeBytes: 192 * 1024, seed: i + 1 });
      const db = new Database(p);
      db.exec('CREATE TABLE chaos_ledger (id INTEGER PRIMARY KEY, transfer_id INTEGER NOT NULL, account TEXT NOT NULL, amount_cents INTEGER NOT NULL)');
      db.close();
      dbPaths.push(p);
    }
    const scratch = join(root, 'scratch');
    if (canMountTmpfs('chaos scratch-full rounds')) unmountScratch = mountTmpfs(scratch, { sizeKiB: 24 * 1024 });
    ({ config, file: configFile } = await testConfig({
      dir: root,
      redisUrl: redis.url,
      redisPrefix: 'chaos',
      settings: {
        dataDir: './data',
        tmpDir: './scratch',
        keys: [{ id: 'k1', file: './k1.key' }],
        localRetention: { keepLast: 3 },
        databases: dbIds.map((id, i) => ({
          id,
          path: dbPaths[i],
          compression: { algorithm: 'gzip', level: 1 },
          encryptionKeyId: 'k1',
          targets: ['s3'],
          retention: { keepLast: 3 },
          schedules: [{ id: 'nightly', cron: '0 3 * * *', timezone: 'UTC', job: 'backup' }],
        })),
        // s3rver checks neither signed payload hashes nor Content-MD5: docs/storage-s3.md says to
        // set contentMd5 for such servers (without it a body corrupted in flight is stored as is).
        targets: [{ name: 's3', url: `s3://${s3.bucket}/fleet`, options: { endpoint: sw.endpoint, credentialsFile: s3.credentialsFile, contentMd5: true }, retention: { keepLast: 2 } }],
        worker: { ...(ORPHAN_RECLAIM ? { orphanArtifactAgeMs: 3000 } : {}), concurrency: 1, lockTtlMs: LOCK_TTL_MS, shutdownGraceMs: 5000, attempts: { backup: 6, upload: 10, prune: 4, restore: 2, verify: 2 }, backoffMs: 200 },
        api: { port: apiPort, keys: [{ id: 'chaos', key: API_KEY, scopes: ['read', 'write', 'admin'] }], adminUser: 'ops', adminPassword: ADMIN_PASSWORD, rateLimitPerMinute: 100_000 },
        log: { level: 'info' },
      },
    }));
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    writer = new Proc('writer', WRITER, ['15', ...dbPaths], logFile('writer'));
    allProcs.push(writer);
    await startWorkers(WORKERS);
    await startApi();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(allProcs.map((p) => p.kill()));
    if (producer) {
      await closeQueues(producer.queues).catch(() => undefined);
      producer.redis.disconnect();
    }
    await sw?.close();
    await s3?.stop();
    await redis?.dispose();
    try {
      unmountScratch?.();
    } catch {
      // already gone
    }
    if (root && process.env.CHAOS_KEEP !== '1') await rm(root, { recursive: true, force: true });
  }, 60_000);

  it(`${ROUNDS} rounds, one fault each: no backup lost, no overlap, no orphan, catalog = storage, no scratch left`, async () => {
    // Round 0: every database gets a first backup, no fault.
    const t0 = Date.now();
    await triggerBackups();
    await quiesce();
    const t1 = Date.now();
    await check(0, 'none');
    console.log(`chaos round 0 (first backups): settled in ${t1 - t0} ms, checked in ${Date.now() - t1} ms`);

    const only = process.env.CHAOS_FAULTS?.split(',').filter(Boolean) as Fault[] | undefined;
    const order: Fault[] = only ? Array.from({ length: ROUNDS }, (_, i) => only[i % only.length]!) : [];
    while (order.length < ROUNDS) {
      const pool = [...FAULTS];
      while (pool.length && order.length < ROUNDS) order.push(pool.splice(between(0, pool.length), 1)[0]!);
    }
    const started = Date.now();
    for (let round = 1; round <= ROUNDS; round++) {
      if (Date.now() - started > BUDGET_MS) {
        fig.skipped.push(`rounds ${round}..${ROUNDS}: time budget of ${BUDGET_MS} ms used up`);
        break;
      }
      const fault = order[round - 1]!;
      const t0 = Date.now();
      const ms: number[] = [];
      try {
        await inject(fault);
        ms.push(Date.now() - t0);
        await quiesce();
        ms.push(Date.now() - t0);
        await check(round, fault);
        ms.push(Date.now() - t0);
      } catch (err) {
        violations.push(`round ${round} (${fault}): ${(err as Error).stack ?? String(err)}`);
      }
      fig.rounds = round;
      fig.faults[fault] = (fig.faults[fault] ?? 0) + 1;
      console.log(`chaos round ${round}/${ROUNDS} ${fault}: ${Date.now() - t0} ms (inject/settle/check at ${ms.join('/')}), ${violations.length} violations so far`);
    }

    // A job that lost its lock (its worker stopped past the lock TTL) must not complete that run:
    // the run's first end after the stop must be an abort or a failure. (A later run of the same
    // job, on any worker, may complete.)
    const isEnd = (l: LogLine): boolean => l.msg === 'job completed' || l.msg === 'job failed' || String(l.msg).startsWith('job aborted');
    for (const f of fenced) {
      const p = allProcs.find((x) => x.pid === f.pid);
      if (!p) continue;
      const startIdx = p.logs.findLastIndex((l) => l.msg === 'job started' && String(l.jobId) === f.jobId && Number(l.time) < f.resumedAt);
      const end = p.logs.slice(startIdx + 1).find((l) => String(l.jobId) === f.jobId && isEnd(l));
      if (end?.msg === 'job completed') {
        fig.fenceViolations++;
        violations.push(`job ${f.jobId} of worker ${f.pid} completed the run it had when its worker was stopped past the lock TTL`);
      }
    }
    fig.jobsFenced = countLogs((l) => String(l.msg).startsWith('job aborted') && /lock/i.test(String(l.reason)));

    // Every live copy verifies (a corrupted upload must never have been recorded).
    const catalog = await openMigratedCatalog(config);
    const storages = createStorages(config);
    const vdir = await mkdtemp(join(root, 'verify-'));
    for (const target of ['local', 's3']) {
      for (const [key, id] of await liveLocations(catalog, target)) {
        try {
          await verifyBackup({ storage: storages.storageFor(target), artifactKey: key, keys: config.keys, tmpDir: vdir });
        } catch (err) {
          fig.corruptVisible++;
          violations.push(`${target}: live copy ${key} (${id}) fails verification: ${(err as Error).message}`);
        }
      }
    }
    await catalog.close();

    if (flushCheck) fig.schedulesBackAfterFlush = await flushCheck;

    // Stop everything gracefully: no scratch may be left behind.
    await Promise.all([...workers.map((w) => w.stop()), api?.stop(), writer?.stop()]);
    const left = (await readdir(config.tmpDir, { recursive: true }).catch(() => [] as string[])).filter((f) => f !== 'lost+found' && !f.startsWith('ballast'));
    fig.scratchLeft = left.length;
    if (left.length) violations.push(`scratch left after the processes stopped: ${left.join(', ')}`);

    fig.jobsStalled = countLogs((l) => String(l.msg).startsWith('job stalled'));
    fig.jobsAborted = countLogs((l) => String(l.msg).startsWith('job aborted'));
    // Every run of a job that did not finish it and gave it back: failed with attempts left, stalled (worker died or hung), aborted (lock lost).
    fig.jobsRetried = countLogs((l) => l.msg === 'job failed' && l.final === false) + fig.jobsStalled + fig.jobsAborted;

    // Secrets of this suite never in any process's output.
    const secrets = [API_KEY, ADMIN_PASSWORD, keyB64, Buffer.from(keyB64, 'base64').toString('hex')];
    for (const f of await readdir(logDir)) {
      const text = readFileSync(join(logDir, f), 'utf8');
      for (const s of secrets) if (text.includes(s)) fig.secretsInLogs++;
    }
    if (fig.secretsInLogs) violations.push(`${fig.secretsInLogs} secret(s) found in process logs (${logDir})`);

    const rows: Array<[string, string | number]> = [
      ['seed', SEED],
      ['databases', DATABASES],
      ['rounds', fig.rounds],
      ...Object.entries(fig.faults).map(([k, v]) => [`  fault ${k}`, v] as [string, number]),
      ['backups taken (completed jobs)', fig.backupsTaken],
      ['restores checked (integrity + ledger)', fig.restoresChecked],
      ['jobs retried (all causes)', fig.jobsRetried],
      ['  of which stalled (worker died/hung)', fig.jobsStalled],
      ['  of which aborted (lock lost)', fig.jobsAborted],
      ['backups lost', fig.backupsLost],
      ['corrupt uploads injected', fig.corruptInjected],
      ['corrupt copies visible (live copy fails verify)', fig.corruptVisible],
      ['corrupt uploads detected before use', fig.corruptInjected - Math.min(fig.corruptInjected, fig.corruptVisible)],
      ['storage resets / hangs injected', `${fig.proxyResets} / ${fig.proxyDelays} (over ${fig.proxyConnections} connections; plus ${fig.switchCuts} connections cut)`],
      ['jobs that lost their lock and stopped', fig.jobsFenced],
      ['fence violations', fig.fenceViolations],
      ['lock intervals audited (catalog history)', fig.historyIntervals],
      ['overlapping jobs', fig.overlaps],
      ['manifest-less artifacts seen (killed writers)', fig.orphans],
      ['  of which still there a round later', fig.orphansLeaked],
      ['catalog/storage mismatches', fig.catalogMismatches],
      ['complete backups left unrecorded, adopted by the next backup (primary)', fig.unlistedAdopted],
      ['complete copies unlisted on a target after FLUSHALL', fig.unlistedAfterFlush],
      ['... of them adopted by a later upload job of that database', fig.unlistedTargetAdopted],
      ['scratch files left', fig.scratchLeft],
      ['schedules after FLUSHALL', fig.schedulesBackAfterFlush],
      ['secrets in logs', fig.secretsInLogs],
      ['skipped', fig.skipped.join('; ') || 'none'],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(['', 'chaos figures', ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`), ''].join('\n'));
    if (violations.length) console.log(`violations:\n${violations.map((v) => `  - ${v}`).join('\n')}`);
    await writeFile(join(tmpdir(), 'mfb-chaos-last.json'), JSON.stringify({ at: new Date().toISOString(), ...fig, violations }, null, 2));

    expect(fig.backupsLost).toBe(0);
    expect(violations).toEqual([]);
  }, 3_600_000);
});
