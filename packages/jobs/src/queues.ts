import { Queue, type ConnectionOptions } from 'bullmq';
import { JOB_NAMES, type JobName, type Payloads } from './contract.js';
import { HOST_BOUND_JOBS, boundHost, hostQueueName, parseQueueName, type HostBoundJobName, type HostOf } from './hosts.js';
import { defaultJobOptions, type RetrySettings } from './options.js';
import { memoizedRepeatStrategy } from './repeat.js';

/** A BullMQ queue of `N` jobs: the shared one (queue name = job name) or a host's (`backup@db-1`). */
export type JobQueue<N extends JobName> = Queue<Payloads[N], unknown, N>;

/** Where databases are (config `databases[].host`), for routing host-bound jobs. */
export interface QueueRouting {
  /** The host of a database; `undefined` (the default for every database): any worker. */
  hostOf?: HostOf;
  /** Every host a database names: their queues are opened at once (status, Bull Board, depth, schedules). */
  hosts?: readonly string[];
}

/**
 * The five shared queues (`queues.backup`, ...: every worker takes from them) plus the prefix
 * they live under, and the host queues of host-bound jobs (docs/scaling.md). Close with
 * `closeQueues`.
 */
export type Queues = { readonly [N in JobName]: JobQueue<N> } & {
  readonly prefix: string;
  /** Hosts named by databases (distinct, sorted). */
  readonly hosts: readonly string[];
  readonly hostOf: HostOf;
  /**
   * The queue a `name` job with `payload` goes to: the host queue of its database's host for
   * a backup or a restore `replace` of a database with a `host`, else the shared queue.
   */
  route<N extends JobName>(name: N, payload: Payloads[N]): JobQueue<N>;
  /** The queue of `name` jobs bound to `host` (opened on first use; `closeQueues` closes it). */
  onHost<N extends HostBoundJobName>(name: N, host: string): JobQueue<N>;
  /** Every open queue of `name` jobs: the host queues first, then the shared one. */
  allOf<N extends JobName>(name: N): Array<JobQueue<N>>;
  /** Every open queue. */
  all(): Array<JobQueue<JobName>>;
};

/** Name of the shared BullMQ queue that carries `name` jobs (host queues: `hostQueueName`). */
export function queueName(name: JobName): string {
  return name;
}

/** One memo for every queue of the process (schedulers are upserted through the queues). */
const repeatStrategy = memoizedRepeatStrategy();

/**
 * Open the five shared queues under `prefix` (config `redis.prefix`) on `connection`, and the
 * host queues of `routing.hosts`. The connection may be shared (an ioredis instance) or
 * options (each queue connects). Default job options (attempts, exponential backoff with
 * jitter) come from `retry`. Without `routing` every job goes to the shared queues.
 */
export function createQueues(connection: ConnectionOptions, prefix: string, retry: RetrySettings = {}, routing: QueueRouting = {}): Queues {
  const open = (name: JobName, qname: string): JobQueue<JobName> =>
    new Queue(qname, { connection, prefix, defaultJobOptions: defaultJobOptions(name, retry), settings: { repeatStrategy } }) as unknown as JobQueue<JobName>;
  const shared = Object.fromEntries(JOB_NAMES.map((name) => [name, open(name, queueName(name))])) as { [N in JobName]: JobQueue<N> };
  const byHost = new Map<string, JobQueue<JobName>>();
  const hostOf: HostOf = routing.hostOf ?? (() => undefined);
  const onHost = <N extends HostBoundJobName>(name: N, host: string): JobQueue<N> => {
    const qname = hostQueueName(name, host);
    let q = byHost.get(qname);
    if (!q) byHost.set(qname, (q = open(name, qname)));
    return q as unknown as JobQueue<N>;
  };
  const hosts = [...new Set(routing.hosts ?? [])].sort();
  for (const h of hosts) for (const n of HOST_BOUND_JOBS) onHost(n, h);
  return Object.freeze({
    ...shared,
    prefix,
    hosts,
    hostOf,
    route<N extends JobName>(name: N, payload: Payloads[N]): JobQueue<N> {
      const host = boundHost(name, payload, hostOf);
      return host === undefined ? shared[name] : (onHost(name as HostBoundJobName, host) as unknown as JobQueue<N>);
    },
    onHost,
    allOf<N extends JobName>(name: N): Array<JobQueue<N>> {
      const mine = [...byHost.values()].filter((q) => parseQueueName(q.name).job === name) as unknown as Array<JobQueue<N>>;
      return [...mine, shared[name]];
    },
    all: () => [...JOB_NAMES.map((n) => shared[n] as unknown as JobQueue<JobName>), ...byHost.values()],
  });
}

/** Close every queue of `queues` (does not close a shared connection passed in). */
export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(queues.all().map((q) => q.close()));
}
