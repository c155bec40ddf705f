import { ApiError, JobFailedError, JobWaitTimeoutError } from './errors.js';
import type {
  Accepted,
  BackupDetail,
  BackupPage,
  BackupSummary,
  CreateScheduleBody,
  DatabaseDetail,
  DatabaseSummary,
  JobView,
  ListBackupsQuery,
  Problem,
  Readiness,
  RestoreBody,
  RetentionPlan,
  Usage,
  Schedule,
  TriggerBackupBody,
  UpdateScheduleBody,
  VerifyBody,
  CatalogRebuildBody,
  CatalogRebuildReport,
} from './schemas.js';

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:8080` (no trailing `/v1`). */
  baseUrl: string;
  apiKey: string;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Extra headers on every request (e.g. `x-request-id`). */
  headers?: Record<string, string>;
}

export interface WaitOptions {
  /** Give up after this long (default 5 minutes): rejects with `JobWaitTimeoutError`. */
  timeoutMs?: number;
  /** Poll interval (default 250 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
}

export interface Download {
  /** The artifact bytes. */
  body: ReadableStream<Uint8Array>;
  /** From `content-length`. */
  sizeBytes: number;
  /** From `content-disposition`. */
  filename: string | null;
}

/** Finished states: `waitForJob` resolves on `completed` and rejects on `failed`. */
const FINAL = new Set(['completed', 'failed']);

const enc = encodeURIComponent;

/**
 * Typed client for the MyFinance Backup API (`/v1`). Every method resolves with the decoded
 * body, or rejects with `ApiError` carrying the problem's `code` and `status`.
 */
export function createClient(opts: ClientOptions) {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const base = opts.baseUrl.replace(/\/+$/, '');

  async function raw(method: string, path: string, body?: unknown, query?: Record<string, unknown>): Promise<Response> {
    let url = base + path;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (Array.isArray(v)) for (const item of v) qs.append(k, String(item));
        else if (v !== undefined && v !== null) qs.set(k, String(v));
      }
      const s = qs.toString();
      if (s) url += '?' + s;
    }
    const headers: Record<string, string> = { ...opts.headers, authorization: `Bearer ${opts.apiKey}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (cause) {
      throw new ApiError('API_UNREACHABLE', `${method} ${path}: ${(cause as Error).message}`, 0, null, cause);
    }
    if (!res.ok) throw await toError(method, path, res);
    return res;
  }

  async function json<T>(method: string, path: string, body?: unknown, query?: Record<string, unknown>): Promise<T> {
    const res = await raw(method, path, body, query);
    if (res.status === 204) return undefined as T;
    try {
      return (await res.json()) as T;
    } catch (cause) {
      throw new ApiError('API_BAD_RESPONSE', `${method} ${path}: response is not JSON`, res.status, null, cause);
    }
  }

  const client = {
    /** Liveness (no key needed). */
    live: () => json<{ status: 'ok' }>('GET', '/health/live'),
    /** Readiness: Redis and catalog reachable. */
    ready: () => json<Readiness>('GET', '/health/ready'),

    listDatabases: async (): Promise<DatabaseSummary[]> => (await json<{ items: DatabaseSummary[] }>('GET', '/v1/databases')).items,
    getDatabase: (databaseId: string) => json<DatabaseDetail>('GET', `/v1/databases/${enc(databaseId)}`),

    /** Enqueue a backup now, or at `at`. A duplicate trigger returns the job already waiting. */
    triggerBackup: (databaseId: string, body: TriggerBackupBody = {}) =>
      json<Accepted>('POST', `/v1/databases/${enc(databaseId)}/backups`, body),
    listBackups: (databaseId: string, query: ListBackupsQuery = {}) =>
      json<BackupPage>('GET', `/v1/databases/${enc(databaseId)}/backups`, undefined, query),
    /** Every backup matching `query`, following cursors. */
    async *iterateBackups(databaseId: string, query: Omit<ListBackupsQuery, 'cursor'> = {}): AsyncGenerator<BackupSummary> {
      let cursor: string | undefined;
      do {
        const page = await client.listBackups(databaseId, { ...query, ...(cursor ? { cursor } : {}) });
        yield* page.items;
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    },
    getBackup: (databaseId: string, backupId: string) =>
      json<BackupDetail>('GET', `/v1/databases/${enc(databaseId)}/backups/${enc(backupId)}`),
    /** Stream the stored artifact (encrypted/compressed exactly as stored). */
    downloadBackup: async (databaseId: string, backupId: string, q: { target?: string } = {}): Promise<Download> => {
      const res = await raw('GET', `/v1/databases/${enc(databaseId)}/backups/${enc(backupId)}/artifact`, undefined, q);
      if (!res.body) throw new ApiError('API_BAD_RESPONSE', 'download: empty body', res.status);
      const cd = res.headers.get('content-disposition');
      return {
        body: res.body,
        sizeBytes: Number(res.headers.get('content-length') ?? -1),
        filename: cd ? (/filename="([^"]+)"/.exec(cd)?.[1] ?? null) : null,
      };
    },
    /**
     * Delete every stored copy (manifest, artifact, pin marker), or only those on `targets`.
     * Pinned backups are refused (409).
     */
    deleteBackup: (databaseId: string, backupId: string, q: { targets?: readonly string[] } = {}) =>
      json<void>('DELETE', `/v1/databases/${enc(databaseId)}/backups/${enc(backupId)}`, undefined, q.targets ? { target: [...q.targets] } : undefined),
    pinBackup: (databaseId: string, backupId: string) =>
      json<BackupSummary>('PUT', `/v1/databases/${enc(databaseId)}/backups/${enc(backupId)}/pin`),
    unpinBackup: (databaseId: string, backupId: string) =>
      json<BackupSummary>('DELETE', `/v1/databases/${enc(databaseId)}/backups/${enc(backupId)}/pin`),

    restore: (databaseId: string, body: RestoreBody) => json<Accepted>('POST', `/v1/databases/${enc(databaseId)}/restores`, body),
    verify: (databaseId: string, body: VerifyBody = {}) => json<Accepted>('POST', `/v1/databases/${enc(databaseId)}/verifies`, body),
    /** Admin: recreate catalog records (and pins) from the manifests on target `from` (default `local`). */
    rebuildCatalog: (body: CatalogRebuildBody = {}) => json<CatalogRebuildReport>('POST', '/v1/catalog/rebuild', body),

    listSchedules: async (q: { databaseId?: string } = {}): Promise<Schedule[]> =>
      (await json<{ items: Schedule[] }>('GET', '/v1/schedules', undefined, q)).items,
    createSchedule: (databaseId: string, body: CreateScheduleBody) =>
      json<Schedule>('POST', `/v1/databases/${enc(databaseId)}/schedules`, body),
    getSchedule: (databaseId: string, scheduleId: string) =>
      json<Schedule>('GET', `/v1/databases/${enc(databaseId)}/schedules/${enc(scheduleId)}`),
    updateSchedule: (databaseId: string, scheduleId: string, body: UpdateScheduleBody) =>
      json<Schedule>('PATCH', `/v1/databases/${enc(databaseId)}/schedules/${enc(scheduleId)}`, body),
    pauseSchedule: (databaseId: string, scheduleId: string) =>
      json<Schedule>('POST', `/v1/databases/${enc(databaseId)}/schedules/${enc(scheduleId)}/pause`, {}),
    resumeSchedule: (databaseId: string, scheduleId: string) =>
      json<Schedule>('POST', `/v1/databases/${enc(databaseId)}/schedules/${enc(scheduleId)}/resume`, {}),
    deleteSchedule: (databaseId: string, scheduleId: string) =>
      json<void>('DELETE', `/v1/databases/${enc(databaseId)}/schedules/${enc(scheduleId)}`),

    /** What a prune of `target` (default `local`, the primary storage) would keep and delete now, with reasons. Changes nothing. */
    getRetentionPlan: (databaseId: string, q: { target?: string } = {}) =>
      json<RetentionPlan>('GET', `/v1/databases/${enc(databaseId)}/retention`, undefined, q),
    /** Bytes and counts of live copies per database and target, from the catalog. */
    getUsage: (q: { databaseId?: string } = {}) => json<Usage>('GET', '/v1/usage', undefined, q),

    getJob: (jobId: string) => json<JobView>('GET', `/v1/jobs/${enc(jobId)}`),

    /**
     * Poll a job until it completes (resolves with its final view) or fails (rejects with
     * `JobFailedError` (code `CLIENT_JOB_FAILED`) carrying the failure reason). Rejects with
     * `JobWaitTimeoutError` after `timeoutMs`.
     */
    async waitForJob(jobId: string, w: WaitOptions = {}): Promise<JobView> {
      const timeoutMs = w.timeoutMs ?? 300_000;
      const intervalMs = w.intervalMs ?? 250;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        w.signal?.throwIfAborted();
        const job = await client.getJob(jobId);
        if (FINAL.has(job.state)) {
          if (job.state === 'failed') {
            throw new JobFailedError(jobId, job.failedReason ?? 'unknown reason', job);
          }
          return job;
        }
        if (Date.now() + intervalMs > deadline) throw new JobWaitTimeoutError(jobId, timeoutMs);
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    },

    /** Low-level escape hatch: a raw request with auth and error mapping. */
    request: raw,
  };
  return client;
}

export type Client = ReturnType<typeof createClient>;

async function toError(method: string, path: string, res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let problem: Problem | null = null;
  try {
    const parsed = JSON.parse(text) as Partial<Problem>;
    if (parsed && typeof parsed.code === 'string') problem = parsed as Problem;
  } catch {
    // not problem+json (a proxy in between, for instance): fall through to a generic error
  }
  const code = problem?.code ?? `HTTP_${res.status}`;
  const detail = problem?.detail ?? (text.slice(0, 200) || res.statusText);
  return new ApiError(code, `${method} ${path}: ${res.status} ${detail}`, res.status, problem);
}
