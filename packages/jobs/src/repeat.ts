import { defaultRepeatStrategy, type RepeatOptions, type RepeatStrategy } from 'bullmq';

/**
 * BullMQ's cron strategy with a memo: the next fire time of a (pattern, time zone) computed
 * from instant `from` is also the answer for every instant in [from, next), since no
 * occurrence lies between. A reconcile of 100,000 schedules over a few thousand distinct
 * crons then parses each cron once instead of 100,000 times (cron-parser's time-zone
 * arithmetic was most of the client's CPU in bench/scale). Options other than `pattern` and
 * `tz` (start/end dates, `immediately`, ...) bypass the memo.
 *
 * One difference, on DST-change days only: for a run inside the skipped hour, cron-parser's
 * answer depends on the instant asked (from before the gap the run moves past the gap, from
 * inside the gap it skips to the next match); the memo keeps the first answer, which is never
 * later than cron-parser's (repeat.test.ts).
 */
export function memoizedRepeatStrategy(base: RepeatStrategy = defaultRepeatStrategy, maxEntries = 20_000): RepeatStrategy {
  const memo = new Map<string, { from: number; next: number }>();
  return (millis: number, opts: RepeatOptions, name?: string) => {
    const { pattern, tz, ...rest } = opts as RepeatOptions & { tz?: string; count?: number; prevMillis?: number; jobId?: string; key?: string };
    const extra = Object.entries(rest).filter(([k, v]) => v !== undefined && !['count', 'prevMillis', 'jobId', 'key', 'offset'].includes(k));
    if (!pattern || extra.length > 0) return base(millis, opts, name);
    const key = `${pattern}\u0000${tz ?? ''}`;
    const hit = memo.get(key);
    if (hit && hit.from <= millis && millis < hit.next) return hit.next;
    const next = base(millis, opts, name);
    if (typeof next === 'number') {
      if (memo.size >= maxEntries) memo.clear();
      memo.set(key, { from: millis, next });
    }
    return next;
  };
}
