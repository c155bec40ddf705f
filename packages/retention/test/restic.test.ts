import { describe, expect, it } from 'vitest';
import { planRetention } from '../src/index.js';
import type { KeepRule, RetentionPolicy } from '../src/index.js';
import fixture from './fixtures/restic-policy.json' with { type: 'json' };

/**
 * restic's own golden results for `forget` (ApplyPolicy), replayed through our planner: the
 * same snapshots and policies must keep the same snapshots for the same rules. The fixture's
 * `source` says where each part comes from.
 */
const RESTIC_RULE: Record<string, KeepRule> = {
  last: 'keepLast',
  hourly: 'keepHourly',
  daily: 'keepDaily',
  weekly: 'keepWeekly',
  monthly: 'keepMonthly',
  yearly: 'keepYearly',
};

function fromRestic(match: string): { rule: KeepRule; oldest: boolean } {
  if (match.startsWith('within ')) return { rule: 'keepWithin', oldest: false };
  const m = /^(oldest )?(\w+) snapshot$/.exec(match);
  const rule = m ? RESTIC_RULE[m[2]!] : undefined;
  if (!rule) throw new Error(`unmapped restic reason ${match}`);
  return { rule, oldest: m![1] !== undefined };
}

describe('restic forget conformance (restic golden files)', () => {
  // Equal timestamps occur (five snapshots at 2015-10-22 10:20:30): compare (time, rules) multisets.
  const backups = fixture.snapshots.map((t, i) => ({ backupId: `s${String(i).padStart(3, '0')}`, createdAt: t, pinned: false }));
  const NOW = new Date('2026-12-01T00:00:00Z');

  for (const c of fixture.cases) {
    it(`${c.golden}: ${JSON.stringify(c.policy)}`, () => {
      const plan = planRetention(backups, { ...(c.policy as RetentionPolicy), timezone: 'UTC' }, NOW);
      const byId = new Map(backups.map((b) => [b.backupId, b.createdAt]));
      const ours = plan.kept
        .map((k) => {
          const rules = k.rules.filter((r) => r !== 'newest');
          const oldest = k.reasons.some((r) => r.endsWith('(oldest)'));
          return `${new Date(byId.get(k.backupId)!).toISOString()} ${rules.join(',')}${oldest ? ' oldest' : ''}`;
        })
        .sort();
      const theirs = c.keep
        .map((k) => {
          const rs = k.matches.map(fromRestic);
          const rules = Object.keys(Object.fromEntries(rs.map((r) => [r.rule, 1]))) as KeepRule[];
          rules.sort((a, b) => order(a) - order(b));
          return `${new Date(k.time).toISOString()} ${rules.join(',')}${rs.some((r) => r.oldest) ? ' oldest' : ''}`;
        })
        .sort();
      expect(ours).toEqual(theirs);
      // restic names the duration the same way (canonical y m d h order)
      for (const k of c.keep) for (const m of k.matches) if (m.startsWith('within ')) expect(plan.kept.some((x) => x.reasons.includes(`keepWithin ${m.slice(7)}`))).toBe(true);
    });
  }
});

const RULE_ORDER: KeepRule[] = ['newest', 'pinned', 'minKeep', 'keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly', 'keepWithin', 'maxAge'];
const order = (r: KeepRule): number => RULE_ORDER.indexOf(r);
