import type { JobSchedulerJson, Queue } from 'bullmq';
import type { JobName, Payloads } from './contract.js';
import { HOST_BOUND_JOBS, type HostBoundJobName } from './hosts.js';
import { JITTERED_EXPONENTIAL } from './options.js';
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
 * Payload of a schedule's jobs (derived at run time from the scheduler id, {@link jobPayload}: the jobs carry no data). A scheduled verify is a restore drill (every target). A scheduled prune prunes the primary (`local`) storage,
 * then chains one prune per target of the database (`everyTarget`).
 */
export function scheduledPayload(s: Pick<DesiredSchedule, 'databaseId' | 'scheduleId' | 'job'>): Payloads[ScheduledJobName] {
  switch (s.job) {
    case 'backup':
      return validatePayload('backup', { databaseId: s.databaseId, trigger: 'schedule', scheduleId: s.scheduleId });
    case 'verify':
      return validatePayload('verify', { databaseId: s.databaseId, drill: true });
    case 'prune':
      return validatePayload('prune', { databaseId: s.databaseId, target: 'local', everyTarget: true });
  }
}

/**
 * The schedule a job of ours was made by, read back from its scheduler id
 * (`mfb.<databaseId>.<scheduleId>`; database ids hold no dot), or `null` for any other job.
 */
function scheduleOf(job: string, repeatJobKey: string | undefined): Pick<DesiredSchedule, 'databaseId' | 'scheduleId' | 'job'> | null {
  const m = repeatJobKey?.startsWith(SCHEDULER_PREFIX) ? /^([^.]+)\.(.+)$/.exec(repeatJobKey.slice(SCHEDULER_PREFIX.length)) : null;
  if (!m || !(SCHEDULED_JOBS as readonly string[]).includes(job)) return null;
  return { databaseId: m[1]!, scheduleId: m[2]!, job: job as ScheduledJobName };
}

/**
 * The payload of a job as the worker validates it: its data, except for the jobs our
 * schedulers make, which carry no data (a scheduler's template and each of its delayed jobs
 * would otherwise store the payload in Redis, see {@link reconcileSchedules}): theirs is
 * {@link scheduledPayload} of the schedule named by the job's scheduler id. Jobs of schedulers
 * written by older versions still carry their payload and are returned as they are.
 */
export function jobPayload(queue: JobName, job: { data: unknown; repeatJobKey?: string | undefined }): unknown {
  const carried = job.data !== null && typeof job.data === 'object' && Object.keys(job.data).length > 0;
  const schedule = carried ? null : scheduleOf(queue, job.repeatJobKey);
  return schedule ? scheduledPayload(schedule) : job.data;
}

/** Options as BullMQ reads them back, with keys in a stable order (Redis's JSON encoder does not keep them). */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

function same(existing: JobSchedulerJson, s: DesiredSchedule, opts: TemplateOpts): boolean {
  return (
    existing.pattern === s.cron &&
    (existing.tz ?? 'UTC') === s.timezone &&
    // Schedulers of older versions carried the payload and the queue defaults: rewritten once.
    existing.template?.data === undefined &&
    canonical(existing.template?.opts ?? {}) === canonical(opts)
  );
}

/**
 * Make the BullMQ job schedulers equal the desired schedules: upsert every active desired
 * schedule (`pattern` + `tz`; template: attempts and backoff only, see `schedulerTemplateOpts`),
 * leave identical ones untouched (so their next run is not disturbed), and remove every `mfb.*`
 * scheduler that is no longer desired. Idempotent; call it
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
      const opts = schedulerTemplateOpts(queue.defaultJobOptions);
      const upserts: Array<[string, DesiredSchedule]> = [];
      for (const [id, s] of want) {
        const current = have.get(id);
        if (current && same(current, s, opts)) result.unchanged.push(id);
        else upserts.push([id, s]);
      }
      // BullMQ merges the queue defaults into the template; the keys we leave out are cleared.
      const cleared = Object.fromEntries(Object.keys(queue.defaultJobOptions).map((k) => [k, undefined]));
      await inParallel(parallelism, upserts, async ([id, s]) => {
        // Queue<..., NameType> types the scheduler id as the job name; ours are free-form ids.
        await (queue as unknown as Queue).upsertJobScheduler(id, { pattern: s.cron, tz: s.timezone }, { name: job, data: {}, opts: { ...cleared, ...opts } });
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

interface TemplateOpts {
  attempts?: number;
  backoff?: { type: string; delay?: number };
}

/**
 * What a scheduled job carries besides its id: the queue's attempts and backoff delay, the
 * backoff under its short name (jitter implied). Nothing else: no payload (derived from the
 * scheduler id, {@link jobPayload}), no history bounds (the workers apply the same ones,
 * `workerJobSettings`). Then every field of the scheduler's hash stays within Redis's default
 * `hash-max-listpack-value` (64 bytes) and the hash in the compact encoding, and the delayed
 * job holds less: 2,369 -> ~1,600 bytes per schedule in bench/scale/reconcile.
 */
function schedulerTemplateOpts(d: Queues['backup']['defaultJobOptions']): TemplateOpts {
  const delay = typeof d.backoff === 'object' ? d.backoff.delay : d.backoff;
  return {
    ...(d.attempts !== undefined ? { attempts: d.attempts } : {}),
    ...(d.backoff !== undefined ? { backoff: { type: JITTERED_EXPONENTIAL, ...(delay !== undefined ? { delay } : {}) } } : {}),
  };
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
