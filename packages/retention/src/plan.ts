import { compactedAway, deleteCompacted, keepChainParents } from './chains.js';
import { RetentionInputError } from './errors.js';
import { compilePolicy, formatBytes } from './policy.js';
import type { RetentionPolicy } from './policy.js';
import { civilFromDays, DAY_MS, HOUR_MS, isoWeek, monthIndexOfDay, parseInstant, weekdayMon0, zoneClock } from './zone.js';
import type { ZoneClock } from './zone.js';

/** What the planner needs to know about a backup. Callers may pass richer objects (catalog records). */
export interface RetentionItem {
  backupId: string;
  /** ISO-8601 string or Date. */
  createdAt: string | Date;
  /** Pinned backups are always kept. */
  pinned: boolean;
  /** Stored size; required when the policy sets `maxTotalBytes`. */
  sizeBytes?: number;
}

/** The rules that can keep a backup, in the order reasons are listed. */
export type KeepRule = 'newest' | 'pinned' | 'minKeep' | 'keepLast' | 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly' | 'keepWithin' | 'maxAge';
/** Why a backup is deleted: older than `maxAge`, removed by the byte budget, replaced by a compacted full, or matched by no keep rule. */
export type DeleteRule = 'maxAge' | 'maxTotalBytes' | 'compacted' | 'none';

export interface RetentionTotals {
  backups: number;
  kept: number;
  deleted: number;
  /** Sum of `sizeBytes` of the kept backups (backups without a size count 0). */
  keptBytes: number;
  deletedBytes: number;
  /** The policy's budget, when it has one. */
  maxTotalBytes?: number;
  /** How far the kept total still exceeds the budget (pins, `minKeep` and the newest cannot go): 0 when within. */
  overBudgetBytes: number;
}

export interface RetentionPlan<T extends RetentionItem = RetentionItem> {
  /** Ids kept, newest first. */
  keep: string[];
  /** Backups to delete, newest first: the caller's own objects plus why they go. */
  delete: Array<T & { reason: string; rule: DeleteRule }>;
  /** Why each kept backup is kept, in `keep` order (for `list --explain`, the API, logs). */
  kept: Array<{ backupId: string; reasons: string[]; rules: KeepRule[] }>;
  totals: RetentionTotals;
}

const B = {
  newest: 1,
  pinned: 2,
  minKeep: 4,
  keepLast: 8,
  keepHourly: 16,
  keepDaily: 32,
  keepWeekly: 64,
  keepMonthly: 128,
  keepYearly: 256,
  keepWithin: 512,
  maxAge: 1024,
} as const satisfies Record<KeepRule, number>;
const RULES = Object.keys(B) as KeepRule[];
const CALENDAR_BITS = B.keepHourly | B.keepDaily | B.keepWeekly | B.keepMonthly | B.keepYearly;
/** Kept by one of these, a backup is out of the byte budget's reach. */
const PROTECTED = B.newest | B.pinned | B.minKeep;

type CalendarRule = 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly';
const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * Bucket number per calendar rule, from the local hour (hourly) or the local day number (the
 * others): equal numbers = same bucket. Weeks are numbered by their Monday.
 */
const BUCKET: Record<CalendarRule, (unit: number) => number> = {
  keepHourly: (hour) => hour,
  keepDaily: (day) => day,
  keepWeekly: (day) => day - weekdayMon0(day),
  keepMonthly: (day) => monthIndexOfDay(day),
  keepYearly: (day) => Math.floor(monthIndexOfDay(day) / 12),
};

/** The bucket's name in reasons: `2026-11-30T14`, `2026-11-30`, `2026-W48`, `2026-11`, `2026`. */
function bucketLabel(rule: CalendarRule, l: number): string {
  const day = Math.floor(l / DAY_MS);
  const c = civilFromDays(day);
  switch (rule) {
    case 'keepHourly':
      return `${c.y}-${pad(c.m)}-${pad(c.d)}T${pad(Math.floor((l - day * DAY_MS) / HOUR_MS))}`;
    case 'keepDaily':
      return `${c.y}-${pad(c.m)}-${pad(c.d)}`;
    case 'keepWeekly': {
      const w = isoWeek(day - weekdayMon0(day));
      return `${w.year}-W${pad(w.week)}`;
    }
    case 'keepMonthly':
      return `${c.y}-${pad(c.m)}`;
    case 'keepYearly':
      return String(c.y);
  }
}

const cmpId = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);
/**
 * Indices of `times`, newest first, ties by id descending (the catalog's order). Sorts
 * `seconds since the oldest * 2^bits + index` packed in a Float64Array natively (exact while
 * below 2^53: 270 years of history for a million backups), 3-5x faster than a comparator sort
 * of 100,000 items and without allocating; runs within one second are then ordered by
 * (time, id). Falls back to the comparator when the keys would not be exact.
 */
function newestFirst(times: Float64Array, idOf: (i: number) => string): Uint32Array | number[] {
  const n = times.length;
  const cmp = (x: number, y: number): number => times[y]! - times[x]! || cmpId(idOf(x), idOf(y));
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    if (times[i]! < min) min = times[i]!;
    if (times[i]! > max) max = times[i]!;
  }
  const scale = 2 ** Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (n === 0 || !(Math.floor((max - min) / 1000) * scale + scale < 2 ** 53)) return Array.from({ length: n }, (_, i) => i).sort(cmp);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = Math.floor((times[i]! - min) / 1000) * scale + i;
  keys.sort();
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = keys[n - 1 - k]! % scale;
  const second = (k: number): number => Math.floor((times[order[k]!]! - min) / 1000);
  for (let k = 0; k < n - 1; ) {
    let e = k + 1;
    const s = second(k);
    while (e < n && second(e) === s) e++;
    if (e - k > 1) order.subarray(k, e).set(Array.from(order.subarray(k, e)).sort(cmp));
    k = e;
  }
  return order;
}

/**
 * Decide which backups to keep and which to delete. Pure: no I/O, no clock (`now` is given).
 * The policy is validated first ({@link validateRetentionPolicy}); a bad one throws
 * `RetentionPolicyError` naming its field.
 *
 * Order is newest first by (createdAt, backupId), the catalog's order. Rules (docs/retention.md):
 * - keep rules, a backup is kept when any keeps it: `newest`, `pinned`, `minKeep N` (the newest
 *   N), `keepLast N`, calendar rules `keepHourly|Daily|Weekly|Monthly|Yearly N` (restic's
 *   `forget`: the newest backup of each of the last N buckets that have backups, plus the
 *   oldest backup while a rule has buckets left), `keepWithin D` (within D of the newest
 *   backup not in the future), `maxAge D` (younger than now - D);
 * - then `maxTotalBytes`: while the kept total exceeds it, the oldest kept backup that is not
 *   pinned, not the newest and not among the newest `minKeep` is deleted;
 * - incremental chains (`keepChainParents`): a delta that a full of the set was compacted from
 *   (`compactedFrom`, not pinned) is no backup of its own: it goes with the rule `compacted`
 *   unless a kept backup needs it, and every parent a kept backup needs is kept (`needed by`).
 *
 * Guarantees, for any input: pinned backups and the newest are kept; the newest
 * `min(n, minKeep)` are kept; every input appears exactly once in `keep` or `delete`; the
 * result does not depend on input order; planning again over the kept backups with the same
 * `now` deletes nothing.
 */
export function planRetention<T extends RetentionItem>(backups: readonly T[], policy: RetentionPolicy, now: Date): RetentionPlan<T> {
  // A delta compacted into a full of the same instant is not a backup of its own any more.
  const away = compactedAway(backups);
  const plan = planRules(away.size ? backups.filter((b) => !away.has(b.backupId)) : backups, policy, now);
  if (away.size) deleteCompacted(plan, backups, away);
  keepChainParents(plan, backups);
  return plan;
}

/** The keep rules and the budget over `backups` (see {@link planRetention}). */
function planRules<T extends RetentionItem>(backups: readonly T[], policy: RetentionPolicy, now: Date): RetentionPlan<T> {
  const c = compilePolicy(policy);
  const p = c.policy;
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new RetentionInputError('now: not a valid Date');
  const nowMs = now.getTime();
  const budget = p.maxTotalBytes;
  const n = backups.length;

  const times = new Float64Array(n);
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const b = backups[i]!;
    const size = seen.size;
    if (seen.add(b.backupId).size === size) throw new RetentionInputError(`backup ${b.backupId} appears twice`);
    const t = b.createdAt instanceof Date ? b.createdAt.getTime() : parseInstant(b.createdAt);
    if (Number.isNaN(t)) throw new RetentionInputError(`backup ${b.backupId}: createdAt is not a valid time`);
    times[i] = t;
    if (b.sizeBytes !== undefined || budget !== undefined) {
      const s = b.sizeBytes;
      if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) {
        throw new RetentionInputError(`backup ${b.backupId}: sizeBytes must be an integer >= 0${budget !== undefined ? ' (maxTotalBytes needs every size)' : ''}, got ${String(s)}`);
      }
    }
  }
  const order = newestFirst(times, (i) => backups[i]!.backupId);

  const zone = zoneClock(c.timezone);
  const mask = new Uint16Array(n); // by position in order

  if (n > 0) mask[0]! |= B.newest;
  for (let k = 0; k < n; k++) if (backups[order[k]!]!.pinned) mask[k]! |= B.pinned;
  for (let k = 0; k < Math.min(n, p.minKeep ?? 0); k++) mask[k]! |= B.minKeep;
  for (let k = 0; k < Math.min(n, p.keepLast ?? 0); k++) mask[k]! |= B.keepLast;

  const cal = markCalendarRules(p, mask, order, times, zone);

  if (c.keepWithin && n > 0) {
    let k0 = 0;
    while (k0 < n && times[order[k0]!]! > nowMs) k0++;
    const anchor = k0 < n ? times[order[k0]!]! : nowMs;
    const cutoff = zone.minus(anchor, c.keepWithin);
    for (let k = 0; k < n && times[order[k]!]! > cutoff; k++) mask[k]! |= B.keepWithin;
  }
  const ageCutoff = c.maxAge ? zone.minus(nowMs, c.maxAge) : Number.NEGATIVE_INFINITY;
  if (c.maxAge) for (let k = 0; k < n && times[order[k]!]! >= ageCutoff; k++) mask[k]! |= B.maxAge;

  const sizeAt = (k: number): number => backups[order[k]!]!.sizeBytes ?? 0;
  let keptBytes = 0;
  for (let k = 0; k < n; k++) if (mask[k]) keptBytes += sizeAt(k);

  const reasonsOf = reasonMaker(p, cal);
  const whyCache = new Map<number, string>();
  const plainWhy = (m: number): string => {
    let w = whyCache.get(m);
    if (w === undefined) whyCache.set(m, (w = reasonsOf(0, m).join(', ')));
    return w;
  };
  /** Positions the budget removed, with the reason string. */
  const budgetCut = new Map<number, string>();
  if (budget !== undefined && keptBytes > budget) {
    const head = `maxTotalBytes ${formatBytes(budget)}: over budget by `;
    for (let k = n - 1; k >= 0 && keptBytes > budget; k--) {
      const m = mask[k]!;
      if (m === 0 || m & PROTECTED) continue;
      const why = m & CALENDAR_BITS ? reasonsOf(k, m).join(', ') : plainWhy(m);
      budgetCut.set(k, `${head}${formatBytes(keptBytes - budget)} (was kept by ${why})`);
      keptBytes -= sizeAt(k);
      mask[k] = 0;
    }
  }

  const plan: RetentionPlan<T> = {
    keep: [],
    delete: [],
    kept: [],
    totals: { backups: n, kept: 0, deleted: 0, keptBytes, deletedBytes: 0, overBudgetBytes: budget !== undefined ? Math.max(0, keptBytes - budget) : 0 },
  };
  if (budget !== undefined) plan.totals.maxTotalBytes = budget;
  const notKept = 'not kept by any rule';
  const ageReasons = new Map<number, string>();
  const ageReason = (days: number): string => {
    let r = ageReasons.get(days);
    if (r === undefined) ageReasons.set(days, (r = `maxAge ${p.maxAge!}: ${days} days old`));
    return r;
  };
  for (let k = 0; k < n; k++) {
    const b = backups[order[k]!]!;
    const m = mask[k]!;
    if (m) {
      const reasons = reasonsOf(k, m);
      plan.keep.push(b.backupId);
      plan.kept.push({ backupId: b.backupId, reasons, rules: RULES.filter((r) => m & B[r]) });
    } else {
      const cut = budgetCut.get(k);
      const t = times[order[k]!]!;
      const [reason, rule]: [string, DeleteRule] = cut !== undefined ? [cut, 'maxTotalBytes'] : t < ageCutoff ? [ageReason(Math.floor((nowMs - t) / DAY_MS)), 'maxAge'] : [notKept, 'none'];
      // Object.assign, not spread: 10x faster on Node 20 for 100,000 records (bench/retention)
      const d = Object.assign({}, b) as T & { reason: string; rule: DeleteRule };
      d.reason = reason;
      d.rule = rule;
      plan.delete.push(d);
      plan.totals.deletedBytes += b.sizeBytes ?? 0;
    }
  }
  plan.totals.kept = plan.keep.length;
  plan.totals.deleted = plan.delete.length;
  return plan;
}

/** Wall-clock times by position, and the positions calendar rules kept only as the oldest backup. */
interface CalendarMarks {
  local: Float64Array | undefined;
  oldest: Map<number, CalendarRule[]>;
}

/** Mark, in `mask` (by position newest first), what the calendar rules keep (restic's `forget`). */
function markCalendarRules(p: RetentionPolicy, mask: Uint16Array, order: ArrayLike<number>, times: Float64Array, zone: ZoneClock): CalendarMarks {
  const n = mask.length;
  const oldest = new Map<number, CalendarRule[]>();
  const rules = (['keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const).filter((r) => (p[r] ?? 0) > 0);
  if (rules.length === 0 || n === 0) return { local: undefined, oldest };
  const local = new Float64Array(n);
  for (let k = 0; k < n; k++) local[k] = zone.local(times[order[k]!]!);
  for (const rule of rules) {
    const bucketOf = BUCKET[rule];
    const unitMs = rule === 'keepHourly' ? HOUR_MS : DAY_MS;
    let left = p[rule]!;
    let last = Number.NaN;
    let lastUnit = Number.NaN;
    const used = new Set<number>();
    for (let k = 0; k < n && left > 0; k++) {
      const unit = Math.floor(local[k]! / unitMs);
      if (unit === lastUnit) continue; // same hour or day as the backup before: same bucket
      lastUnit = unit;
      const key = bucketOf(unit);
      // `used` as well as `last`: a DST change at midnight can bring a local day back
      if (key === last || used.has(key)) continue;
      used.add(key);
      last = key;
      mask[k]! |= B[rule];
      left--;
    }
    // restic keeps the oldest backup too while a rule has buckets left: the longest history.
    if (left > 0 && !(mask[n - 1]! & B[rule])) {
      mask[n - 1]! |= B[rule];
      oldest.set(n - 1, [...(oldest.get(n - 1) ?? []), rule]);
    }
  }
  return { local, oldest };
}

/** `reasonsOf(position, mask)`: the reason strings of a kept backup, in rule order. */
function reasonMaker(p: RetentionPolicy, cal: CalendarMarks): (k: number, m: number) => string[] {
  /** Rule sets without a calendar rule read the same for every backup: built once. */
  const plain = new Map<number, string[]>();
  return function reasonsOf(k: number, m: number): string[] {
    if (!(m & CALENDAR_BITS)) {
      let r = plain.get(m);
      if (!r) plain.set(m, (r = reasonList(k, m)));
      return [...r];
    }
    return reasonList(k, m);
  };

  function reasonList(k: number, m: number): string[] {
    const out: string[] = [];
    for (const r of RULES) {
      if (!(m & B[r])) continue;
      switch (r) {
        case 'newest':
        case 'pinned':
          out.push(r);
          break;
        case 'minKeep':
        case 'keepLast':
          out.push(`${r} ${p[r]!}`);
          break;
        case 'keepWithin':
          out.push(`keepWithin ${p.keepWithin!}`);
          break;
        case 'maxAge':
          out.push(`maxAge ${p.maxAge!} (younger)`);
          break;
        default: {
          const label = bucketLabel(r, cal.local![k]!);
          out.push(cal.oldest.get(k)?.includes(r) ? `${r} ${label} (oldest)` : `${r} ${label}`);
        }
      }
    }
    return out;
  }
}
