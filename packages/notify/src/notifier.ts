import { setTimeout as sleep } from 'node:timers/promises';
import { redactUrl } from '@mfb/errors';
import type { IncidentStore } from './incidents.js';
import { messageBody, type NotificationEvent, type WebhookFormat } from './messages.js';

/** A webhook that receives incident messages. */
export interface WebhookTarget {
  /** POSTed to; its path often is the secret (Slack, Discord): never logged. */
  url: string;
  /** `json` (generic), `slack` (incoming webhook `{text}`), `discord` (`{content, embeds}`). */
  format: WebhookFormat;
  /** Which messages it gets. @defaultValue both */
  events?: ReadonlyArray<'failure' | 'recovery'>;
}

/** Where one database's notifications go (global settings merged with its own). */
export interface NotifyRoute {
  webhooks: readonly WebhookTarget[];
  /** Pinged (POST) after each successful backup; `<url>/fail` after a finally failed one (healthchecks.io style). */
  heartbeatUrl?: string | undefined;
}

export interface NotifierOptions {
  /** Where a database's notifications go; `undefined`/no webhooks and no heartbeat = nothing sent. */
  routeFor(databaseId: string): NotifyRoute | undefined;
  /** Per attempt. @defaultValue 5000 */
  timeoutMs?: number;
  /** Attempts per message (network errors, 429 and 5xx are retried). @defaultValue 4 */
  attempts?: number;
  /** First retry delay; doubled each time, jittered. @defaultValue 1000 */
  backoffMs?: number;
  /** Outcomes and messages waiting at most; beyond it new ones are dropped (counted, logged). @defaultValue 1000 */
  queueSize?: number;
  /** Messages in flight at once. @defaultValue 8 */
  concurrency?: number;
  /** Incident state shared by every worker (Redis in production). */
  store: IncidentStore;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /** HTTP client (tests may wrap it). @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** A job's final outcome: a success, or a failure after its last attempt (never a retried attempt). */
export interface JobOutcome {
  databaseId: string;
  /** Job name (`backup`, `upload`, `verify`, ...). */
  job: string;
  /** For uploads: the target; incidents are tracked per database, job and target. */
  target?: string | undefined;
  ok: boolean;
  error?: string | null;
  jobId?: string;
  at?: Date;
}

export interface NotifierStats {
  /** Messages delivered (2xx). */
  sent: number;
  /** Messages given up after their last attempt. */
  failed: number;
  /** Outcomes or messages dropped because the queue was full. */
  dropped: number;
}

interface Message {
  url: string;
  body: string;
  contentType: string;
}

/** Log form of a notification URL: no credentials, no query secrets, and no path (Slack/Discord/ping tokens live there). */
export function redactHookUrl(url: string): string {
  try {
    const u = new URL(redactUrl(url));
    return `${u.protocol}//${u.host}${u.pathname.length > 1 ? '/…' : '/'}`;
  } catch {
    return '(invalid url)';
  }
}

function heartbeatFailUrl(url: string): string {
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/fail`;
  return u.href;
}

/**
 * Fire-and-forget notifications. `report()` returns at once and never throws: the job that
 * reported has already finished, whatever happens to its message. Work waits in a bounded
 * queue; incident transitions go through the shared store (one failure message when a
 * database starts failing, one recovery message when it succeeds again, whichever worker
 * sees it), then messages are sent with retries and exponential backoff.
 */
export class Notifier {
  private readonly opts: Required<Omit<NotifierOptions, 'log' | 'routeFor' | 'store' | 'fetch'>>;
  private readonly outcomes: JobOutcome[] = [];
  private readonly messages: Message[] = [];
  private processing = false;
  private inFlight = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private lastDropLog = 0;
  readonly stats: NotifierStats = { sent: 0, failed: 0, dropped: 0 };

  constructor(private readonly o: NotifierOptions) {
    this.opts = {
      timeoutMs: o.timeoutMs ?? 5000,
      attempts: o.attempts ?? 4,
      backoffMs: o.backoffMs ?? 1000,
      queueSize: o.queueSize ?? 1000,
      concurrency: o.concurrency ?? 8,
    };
  }

  /** Record a final job outcome. Never throws, never waits. */
  report(outcome: JobOutcome): void {
    if (this.closed) return;
    const route = this.o.routeFor(outcome.databaseId);
    if (!route || (route.webhooks.length === 0 && !route.heartbeatUrl)) return;
    if (this.outcomes.length >= this.opts.queueSize) return this.drop('outcome');
    this.outcomes.push({ ...outcome, at: outcome.at ?? new Date() });
    if (!this.processing) void this.process();
  }

  /** Resolves once everything queued has been sent or given up (tests, shutdown). */
  async idle(): Promise<void> {
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop accepting; wait up to `graceMs` for pending messages, then abandon them. */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.abort.abort();
    this.outcomes.length = 0;
    this.messages.length = 0;
  }

  private isIdle(): boolean {
    return !this.processing && this.inFlight === 0 && this.outcomes.length === 0 && this.messages.length === 0;
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  private drop(what: string): void {
    this.stats.dropped++;
    if (Date.now() - this.lastDropLog > 10_000) {
      this.lastDropLog = Date.now();
      this.o.log?.warn({ what, dropped: this.stats.dropped }, 'notification queue full: dropping');
    }
  }

  /** Incident transitions in arrival order (one at a time), then hand messages to the senders. */
  private async process(): Promise<void> {
    this.processing = true;
    try {
      while (this.outcomes.length > 0 && !this.abort.signal.aborted) {
        const outcome = this.outcomes.shift()!;
        try {
          for (const m of await this.plan(outcome)) this.enqueue(m);
        } catch (err) {
          this.o.log?.warn({ databaseId: outcome.databaseId, err: err instanceof Error ? err.message : String(err) }, 'could not update incident state; no notification sent');
        }
      }
    } finally {
      this.processing = false;
      this.settle();
    }
  }

  private async plan(outcome: JobOutcome): Promise<Message[]> {
    const route = this.o.routeFor(outcome.databaseId);
    if (!route) return [];
    const out: Message[] = [];
    if (route.heartbeatUrl && outcome.job === 'backup') {
      out.push({
        url: outcome.ok ? route.heartbeatUrl : heartbeatFailUrl(route.heartbeatUrl),
        body: outcome.ok ? `backup of ${outcome.databaseId} succeeded` : `backup of ${outcome.databaseId} failed: ${outcome.error ?? 'unknown error'}`.slice(0, 1000),
        contentType: 'text/plain; charset=utf-8',
      });
    }
    if (route.webhooks.length === 0) return out;
    const key = [outcome.databaseId, outcome.job, ...(outcome.target ? [outcome.target] : [])].join(':');
    const at = (outcome.at ?? new Date()).toISOString();
    let event: NotificationEvent | undefined;
    if (outcome.ok) {
      const since = await this.o.store.resolve(key);
      if (since !== null) event = { kind: 'recovery', databaseId: outcome.databaseId, job: outcome.job, target: outcome.target ?? null, at, since, error: null, jobId: outcome.jobId ?? null };
    } else if (await this.o.store.open(key, at)) {
      event = { kind: 'failure', databaseId: outcome.databaseId, job: outcome.job, target: outcome.target ?? null, at, since: at, error: outcome.error ?? null, jobId: outcome.jobId ?? null };
    }
    if (!event) return out;
    for (const hook of route.webhooks) {
      if (hook.events && !hook.events.includes(event.kind)) continue;
      out.push({ url: hook.url, body: JSON.stringify(messageBody(hook.format, event)), contentType: 'application/json' });
    }
    return out;
  }

  private enqueue(m: Message): void {
    if (this.messages.length >= this.opts.queueSize) return this.drop('message');
    this.messages.push(m);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.opts.concurrency && this.messages.length > 0) {
      const m = this.messages.shift()!;
      this.inFlight++;
      void this.send(m).finally(() => {
        this.inFlight--;
        this.pump();
        this.settle();
      });
    }
  }

  private async send(m: Message): Promise<void> {
    const doFetch = this.o.fetch ?? fetch;
    let last = '';
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      if (this.abort.signal.aborted) return;
      try {
        const res = await doFetch(m.url, {
          method: 'POST',
          headers: { 'content-type': m.contentType, 'user-agent': 'myfinance-backup' },
          body: m.body,
          redirect: 'error',
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          this.stats.sent++;
          return;
        }
        last = `HTTP ${res.status}`;
        // A 4xx other than 429 will not get better by retrying (wrong URL, bad token).
        if (res.status < 500 && res.status !== 429) break;
      } catch (err) {
        last = err instanceof Error ? (err.name === 'TimeoutError' ? 'timeout' : err.message) : String(err);
      }
      if (attempt < this.opts.attempts) {
        const delay = Math.round(this.opts.backoffMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5));
        await sleep(delay, undefined, { signal: this.abort.signal, ref: false }).catch(() => undefined);
      }
    }
    this.stats.failed++;
    this.o.log?.warn({ url: redactHookUrl(m.url), err: last }, 'notification not delivered; giving up');
  }
}
