import type { JobSchedulerJson, Queue } from 'bullmq';
import type { Payloads } from './contract.js';
import { HOST_BOUND_JOBS, type HostBoundJobName } from './hosts.js';
import type { Queues } from './queues.js';
import type { RedisConnection } from './redis.js';
import { validatePayload } from './validate.js';

/** Jobs a schedule can start. */
export type ScheduledJobName = 'backup' | 'verify' | 'prune';

/** Desired state of one schedule (the catalog `ScheduleRecord` fits this shape). */
export interface DesiredSchedule {
  databaseId: string;
  scheduleId: string;
  job: ScheduledJobName;
  /** Cron pattern, 5 or 6 fields. */
  cron: string;
  /** IANA time zone. */
  timezone: string;
  /** Paused schedules are kept in the catalog but have no BullMQ scheduler. */
  paused: boolean;
}

export interface ReconcileResult {
  /** Scheduler ids created or changed. */
  upserted: string[];
  /** Scheduler ids removed (no longer desired, paused, or moved to another job). */
  removed: string[];
  unchanged: string[];
}

const SCHEDULER_PREFIX = 'mfb.';
const SCHEDULED_JOBS: readonly ScheduledJobName[] = ['backup', 'verify', 'prune'];

/** BullMQ job scheduler id of a schedule: `mfb.<databaseId>.<scheduleId>`. */
export function schedulerId(s: Pick<DesiredSchedule, 'databaseId' | 'scheduleId'>): string {
  return `${SCHEDULER_PREFIX}${s.databaseId}.${s.scheduleId}`;
}

/**
 * Payload a schedule's jobs carry. A scheduled verify is a restore drill (every target). A scheduled prune prunes the primary (`local`) storage,
 * then chains one prune per target of the database (`everyTarget`).
 */
export function scheduledPayload(s: DesiredSchedule): Payloads[ScheduledJobName] {
  switch (s.job) {
    case 'backup':
      return validatePayload('backup', { databaseId: s.databaseId, trigger: 'schedule', scheduleId: s.scheduleId });
    case 'verify':
      return validatePayload('verify', { databaseId: s.databaseId, drill: true });
    case 'prune':
      return validatePayload('prune', { databaseId: s.databaseId, target: 'local', everyTarget: true });
  }
}

function same(existing: JobSchedulerJson, s: DesiredSchedule, data: unknown): boolean {
  return (
    existing.pattern === s.cron &&
    (existing.tz ?? 'UTC') === s.timezone &&
    JSON.stringify(existing.template?.data ?? null) === JSON.stringify(data)
  );
}

/**
 * Make the BullMQ job schedulers equal the desired schedules: upsert every active desired
 * schedule (`pattern` + `tz`), leave identical ones untouched (so their next run is not
 * disturbed), and remove every `mfb.*` scheduler that is no longer desired. Idempotent; call it
 * at start-up, after every schedule change, and periodically (a flushed Redis gets its
 * schedules back).
 */
export async function reconcileSchedules(queues: Queues, desired: readonly DesiredSchedule[], opts: { parallelism?: number } = {}): Promise<ReconcileResult> {
  const parallelism = opts.parallelism ?? RECONCILE_PARALLELISM;
  const result: ReconcileResult = { upserted: [], removed: [], unchanged: [] };
  const payloads = new Map(desired.map((s) => [s, scheduledPayload(s)]));
  const queueOf = new Map(desired.map((s) => [s, queues.route(s.job, payloads.get(s) as never).name]));
  const hosts = await hostsWithQueues(queues);
  for (const job of SCHEDULED_JOBS) {
    // A backup schedule of a database with a `host` lives in that host's queue; the queues of
    // every host ever named are looked at, so a schedule whose database moved is taken out of
    // its old queue.
    const candidates: Queue[] = (HOST_BOUND_JOBS as readonly string[]).includes(job)
      ? [...hosts.map((h) => queues.onHost(job as HostBoundJobName, h)), queues[job]]
      : [queues[job]];
    for (const queue of candidates as Array<Queues['backup']>) {
      const want = new Map(
        desired.filter((s) => s.job === job && !s.paused && queueOf.get(s) === queue.name).map((s) => [schedulerId(s), s]),
      );
      const existing = (await queue.getJobSchedulers(0, -1, true)).filter((j) => (j.key ?? j.id ?? '').startsWith(SCHEDULER_PREFIX));
      const have = new Map(existing.map((j) => [j.key ?? j.id ?? '', j]));
      const removals = [...have.keys()].filter((id) => !want.has(id));
      await inParallel(parallelism, removals, async (id) => {
        await queue.removeJobScheduler(id);
      });
      result.removed.push(...removals);
      const upserts: Array<[string, DesiredSchedule, ReturnType<typeof scheduledPayload>]> = [];
      for (const [id, s] of want) {
        const data = payloads.get(s)!;
        const current = have.get(id);
        if (current && same(current, s, data)) result.unchanged.push(id);
        else upserts.push([id, s, data]);
      }
      const opts = schedulerTemplateOpts(queue.defaultJobOptions);
      await inParallel(parallelism, upserts, async ([id, s, data]) => {
        // Queue<..., NameType> types the scheduler id as the job name; ours are free-form ids.
        await (queue as unknown as Queue).upsertJobScheduler(id, { pattern: s.cron, tz: s.timezone }, { name: job, data, opts });
      });
      result.upserted.push(...upserts.map(([id]) => id));
    }
  }
  return result;
}

/**
 * The hosts whose queues may hold schedulers: those the databases name now, and every host
 * named before (recorded in the set `<prefix>:mfb:host-queues`, which only grows).
 */
async function hostsWithQueues(queues: Queues): Promise<string[]> {
  // The queue's own ioredis connection (we always pass ioredis).
  const client = (await queues.backup.getBackend().client) as unknown as Pick<RedisConnection, 'sadd' | 'smembers'>;
  const key = `${queues.prefix}:mfb:host-queues`;
  if (queues.hosts.length > 0) await client.sadd(key, ...queues.hosts);
  return [...new Set([...queues.hosts, ...(await client.smembers(key))])].sort();
}

/**
 * Schedulers changed at once. Each upsert is a few round trips (a Lua script and reads); run in
 * parallel they share one connection's pipeline, so 10,000 schedules take one pass of the
 * network instead of 10,000 sequential ones. Bounded so a huge fleet does not queue 100,000
 * promises and scripts at once.
 */
const RECONCILE_PARALLELISM = 8;

async function inParallel<T>(parallelism: number, items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallelism, items.length)) }, lane));
}

function schedulerTemplateOpts(d: Queues['backup']['defaultJobOptions']): { attempts?: number; backoff?: typeof d.backoff } {
  return { ...(d.attempts !== undefined ? { attempts: d.attempts } : {}), ...(d.backoff !== undefined ? { backoff: d.backoff } : {}) };
}

/** Anything that lists desired schedules (the `Catalog` does). */
export interface ScheduleSource {
  listSchedules(): Promise<readonly DesiredSchedule[]>;
}

/**
 * Reconcile the catalog's schedules into BullMQ. The API calls this after every schedule
 * change; the worker at start-up, every minute and after a Redis reconnect.
 */
export async function syncSchedules(queues: Queues, source: ScheduleSource): Promise<ReconcileResult> {
  return reconcileSchedules(queues, await source.listSchedules());
}
