/**
 * Planning benchmark (issue 9): plan 100,000 backups with every rule on, against sorting the
 * same list (the planner's unavoidable floor), both measured in the same run.
 *
 *   tsx bench/retention/plan.ts [count=100000] [reps=7] [timezone=Europe/Berlin]
 *
 * Targets: plan <= 0.5 s and <= 10x the sort. Prints one JSON line per rep and a summary.
 */
import { planRetention } from '@mfb/retention';
import type { RetentionItem, RetentionPolicy } from '@mfb/retention';

const count = Number(process.argv[2] ?? 100_000);
const reps = Number(process.argv[3] ?? 7);
const timezone = process.argv[4] ?? 'Europe/Berlin';

interface Rec extends RetentionItem {
  createdAt: string;
  sizeBytes: number;
}

/** A catalog-like history: one backup every ~55 minutes with jitter (about 10.5 years), 1% pinned, sizes 1-50 MiB. */
function history(n: number): Rec[] {
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const end = Date.parse('2026-12-01T00:00:00Z');
  const out: Rec[] = [];
  let t = end;
  for (let i = 0; i < n; i++) {
    t -= 55 * 60_000 * (0.5 + rnd());
    out.push({ backupId: `b${String(i).padStart(7, '0')}-${Math.floor(rnd() * 1e6)}`, createdAt: new Date(Math.floor(t)).toISOString(), pinned: rnd() < 0.01, sizeBytes: Math.floor((1 + rnd() * 49) * 2 ** 20) });
  }
  // the catalog hands them over in its own order; shuffle so the sort does real work
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const policy: RetentionPolicy = {
  keepLast: 24,
  keepHourly: 48,
  keepDaily: 14,
  keepWeekly: 8,
  keepMonthly: 24,
  keepYearly: 10,
  keepWithin: '7d',
  maxAge: '5y',
  maxTotalBytes: 20 * 2 ** 30,
  minKeep: 3,
  timezone,
};

const backups = history(count);
const now = new Date('2026-12-01T00:00:00Z');

/** The reference: sort the same list newest first by (createdAt, backupId), as the catalog orders it. */
function sortOnly(): number {
  const s = [...backups].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.backupId < b.backupId ? 1 : a.backupId > b.backupId ? -1 : 0));
  return s.length;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Wall time (ms) of f; its CPU time (user + system, ms) goes to `cpu`: on a loaded machine the two differ. */
const cpu: number[] = [];
const ms = (f: () => unknown): number => {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  f();
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  return wall;
};

// warm-up (JIT, heap growth); the zone's offset cache is per process, so later reps reuse it:
// the cold first plan is reported too
const cold = ms(() => planRetention(backups, policy, now));
for (let w = 0; w < 3; w++) {
  planRetention(backups, policy, now);
  sortOnly();
}
cpu.length = 0;
const planMs: number[] = [];
const sortMs: number[] = [];
const planCpu: number[] = [];
const sortCpu: number[] = [];
for (let r = 0; r < reps; r++) {
  const s = ms(sortOnly);
  sortCpu.push(cpu.at(-1)!);
  let kept = 0;
  const p = ms(() => {
    kept = planRetention(backups, policy, now).keep.length;
  });
  planCpu.push(cpu.at(-1)!);
  sortMs.push(s);
  planMs.push(p);
  console.log(JSON.stringify({ rep: r + 1, planMs: +p.toFixed(1), sortMs: +s.toFixed(1), ratio: +(p / s).toFixed(2), planCpuMs: +planCpu.at(-1)!.toFixed(1), sortCpuMs: +sortCpu.at(-1)!.toFixed(1), kept }));
}
const plan = planRetention(backups, policy, now);
const summary = {
  count,
  reps,
  timezone,
  node: process.version,
  coldFirstPlanMs: +cold.toFixed(1),
  planMedianMs: +median(planMs).toFixed(1),
  sortMedianMs: +median(sortMs).toFixed(1),
  ratioOfMedians: +(median(planMs) / median(sortMs)).toFixed(2),
  planCpuMedianMs: +median(planCpu).toFixed(1),
  sortCpuMedianMs: +median(sortCpu).toFixed(1),
  kept: plan.totals.kept,
  deleted: plan.totals.deleted,
  keptGiB: +(plan.totals.keptBytes / 2 ** 30).toFixed(2),
  deleteRules: Object.fromEntries(['maxAge', 'maxTotalBytes', 'none'].map((r) => [r, plan.delete.filter((d) => d.rule === r).length])),
  loadavg: (await import('node:os')).loadavg().map((x) => +x.toFixed(2)),
};
console.log(JSON.stringify(summary));
console.log(
  `plan ${summary.planMedianMs} ms wall / ${summary.planCpuMedianMs} ms CPU (target <= 500), sort ${summary.sortMedianMs} ms wall / ${summary.sortCpuMedianMs} ms CPU, ratio ${summary.ratioOfMedians} (target <= 10)`,
);
