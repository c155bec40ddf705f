import { Queue, type ConnectionOptions } from 'bullmq';
import { JOB_NAMES, type JobName, type Payloads } from './contract.js';
import { defaultJobOptions, type RetrySettings } from './options.js';
import { memoizedRepeatStrategy } from './repeat.js';

/** One BullMQ queue per job name; the queue name is the job name. */
export type JobQueue<N extends JobName> = Queue<Payloads[N], unknown, N>;

/** The five queues plus the prefix they live under. Close with `closeQueues`. */
export type Queues = { readonly [N in JobName]: JobQueue<N> } & { readonly prefix: string };

/** Name of the BullMQ queue that carries `name` jobs. */
export function queueName(name: JobName): string {
  return name;
}

/**
 * Open the five queues under `prefix` (config `redis.prefix`) on `connection`.
 * The connection may be shared (an ioredis instance) or options (each queue connects).
 * Default job options (attempts, exponential backoff with jitter) come from `retry`.
 */
/** One memo for every queue of the process (schedulers are upserted through the queues). */
const repeatStrategy = memoizedRepeatStrategy();

export function createQueues(connection: ConnectionOptions, prefix: string, retry: RetrySettings = {}): Queues {
  const entries = JOB_NAMES.map((name) => [
    name,
    new Queue(queueName(name), { connection, prefix, defaultJobOptions: defaultJobOptions(name, retry), settings: { repeatStrategy } }),
  ]);
  return Object.freeze({ ...Object.fromEntries(entries), prefix }) as Queues;
}

/** Close every queue of `queues` (does not close a shared connection passed in). */
export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(JOB_NAMES.map((n) => queues[n].close()));
}
