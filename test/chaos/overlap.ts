/**
 * Serialization audit: no two jobs of one database may hold it at the same time
 * (ARCHITECTURE.md invariant 5). Works on recorded [start, end] intervals, whatever recorded them
 * (the catalog's job history, or the worker's test-only interval record).
 */

/** One job's hold on a database, in epoch milliseconds. */
export interface JobInterval {
  databaseId: string;
  jobId: string;
  queue?: string;
  start: number;
  end: number;
  /** Where the interval was recorded (for messages): `catalog`, `record:<pid>`, ... */
  source?: string;
}

export interface Overlap {
  databaseId: string;
  first: JobInterval;
  second: JobInterval;
  /** How long both held the database, ms. */
  overlapMs: number;
}

/**
 * Every pair of intervals of one database that overlap by more than `toleranceMs` (0: any
 * overlap; touching ends, `a.end === b.start`, are not an overlap). Sweep per database in
 * start order, comparing each interval with every earlier one still open.
 */
export function findOverlaps(intervals: readonly JobInterval[], toleranceMs = 0): Overlap[] {
  const byDb = new Map<string, JobInterval[]>();
  for (const i of intervals) {
    if (!(Number.isFinite(i.start) && Number.isFinite(i.end))) throw new Error(`interval of job ${i.jobId} has no valid times`);
    if (i.end < i.start) throw new Error(`interval of job ${i.jobId} ends before it starts`);
    let l = byDb.get(i.databaseId);
    if (!l) byDb.set(i.databaseId, (l = []));
    l.push(i);
  }
  const out: Overlap[] = [];
  for (const [databaseId, list] of byDb) {
    list.sort((a, b) => a.start - b.start || a.end - b.end);
    const open: JobInterval[] = [];
    for (const cur of list) {
      for (let k = open.length - 1; k >= 0; k--) if (open[k]!.end <= cur.start + toleranceMs) open.splice(k, 1);
      for (const prev of open) out.push({ databaseId, first: prev, second: cur, overlapMs: Math.min(prev.end, cur.end) - cur.start });
      open.push(cur);
    }
  }
  return out;
}

/** A catalog job-history row (the fields the audit reads; lock times when the catalog records them). */
export interface HistoryRow {
  jobId: string;
  queue: string;
  databaseId: string;
  startedAt: string;
  finishedAt: string;
  lockAcquiredAt?: string | null;
  lockReleasedAt?: string | null;
}

/**
 * Intervals from the catalog's job history. The lock times are used when recorded (the
 * database was held exactly then); otherwise `startedAt`..`finishedAt`, which also covers the
 * time before the lock was taken and after it was released, so only `lockTimes: 'required'`
 * callers that need exact holds skip such rows.
 */
export function intervalsFromHistory(rows: readonly HistoryRow[], opts: { lockTimes?: 'prefer' | 'required' } = {}): JobInterval[] {
  const out: JobInterval[] = [];
  for (const r of rows) {
    const hasLock = typeof r.lockAcquiredAt === 'string' && typeof r.lockReleasedAt === 'string';
    if (!hasLock && opts.lockTimes === 'required') continue;
    const start = Date.parse(hasLock ? r.lockAcquiredAt! : r.startedAt);
    const end = Date.parse(hasLock ? r.lockReleasedAt! : r.finishedAt);
    out.push({ databaseId: r.databaseId, jobId: r.jobId, queue: r.queue, start, end, source: hasLock ? 'catalog(lock)' : 'catalog' });
  }
  return out;
}

export function describeOverlap(o: Overlap): string {
  const f = (i: JobInterval): string => `${i.queue ?? '?'} job ${i.jobId} [${new Date(i.start).toISOString()} .. ${new Date(i.end).toISOString()}] (${i.source ?? '?'})`;
  return `database ${o.databaseId}: ${f(o.first)} and ${f(o.second)} overlap by ${o.overlapMs} ms`;
}
