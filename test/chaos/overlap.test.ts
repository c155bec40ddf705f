import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { findOverlaps, intervalsFromHistory, type JobInterval } from './overlap.js';

const iv = (databaseId: string, jobId: string, start: number, end: number): JobInterval => ({ databaseId, jobId, start, end });

describe('findOverlaps (the chaos suite serialization audit)', () => {
  it('detects two jobs of one database that held it at once', () => {
    const found = findOverlaps([iv('db1', 'a', 0, 100), iv('db1', 'b', 50, 150), iv('db2', 'c', 0, 100)]);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ databaseId: 'db1', first: { jobId: 'a' }, second: { jobId: 'b' }, overlapMs: 50 });
  });

  it('detects a job nested inside a long one, past a short one in between', () => {
    const found = findOverlaps([iv('db1', 'long', 0, 1000), iv('db1', 'short', 10, 20), iv('db1', 'late', 500, 600)]);
    expect(found.map((o) => [o.first.jobId, o.second.jobId])).toEqual([
      ['long', 'short'],
      ['long', 'late'],
    ]);
  });

  it('accepts back-to-back jobs and different databases in parallel', () => {
    expect(findOverlaps([iv('db1', 'a', 0, 100), iv('db1', 'b', 100, 200), iv('db2', 'c', 50, 150), iv('db1', 'd', 300, 301)])).toEqual([]);
  });

  it('tolerance ignores overlaps up to it, not beyond', () => {
    const list = [iv('db1', 'a', 0, 100), iv('db1', 'b', 95, 200)];
    expect(findOverlaps(list, 5)).toEqual([]);
    expect(findOverlaps(list, 4)).toHaveLength(1);
  });

  it('refuses intervals without valid times', () => {
    expect(() => findOverlaps([iv('db1', 'a', Number.NaN, 1)])).toThrow(/valid times/);
    expect(() => findOverlaps([iv('db1', 'a', 5, 1)])).toThrow(/ends before/);
  });

  it('property: disjoint schedules pass; any shifted-in job is reported', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 2, maxLength: 30 }), fc.nat(), (lengths, pick) => {
        let t = 0;
        const list = lengths.map((len, k) => {
          const i = iv('db', `j${k}`, t, t + len);
          t += len;
          return i;
        });
        expect(findOverlaps(list)).toEqual([]);
        // Move one job to start 1 ms before its predecessor ends.
        const k = 1 + (pick % (list.length - 1));
        const moved = { ...list[k]!, start: list[k - 1]!.end - 1, end: list[k]!.end };
        const bad = [...list.slice(0, k), moved, ...list.slice(k + 1)];
        const found = findOverlaps(bad);
        expect(found.some((o) => o.second.jobId === moved.jobId || o.first.jobId === moved.jobId)).toBe(true);
      }),
    );
  });

  it('reads catalog history rows, preferring the recorded lock times', () => {
    const rows = [
      { jobId: '1', queue: 'backup', databaseId: 'db1', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:02.000Z' },
      { jobId: '2', queue: 'prune', databaseId: 'db1', startedAt: '2026-01-01T00:00:01.990Z', finishedAt: '2026-01-01T00:00:03.000Z', lockAcquiredAt: '2026-01-01T00:00:02.000Z', lockReleasedAt: '2026-01-01T00:00:02.500Z' },
    ];
    const all = intervalsFromHistory(rows);
    expect(all[1]).toMatchObject({ start: Date.parse('2026-01-01T00:00:02.000Z'), source: 'catalog(lock)' });
    expect(findOverlaps(all)).toEqual([]);
    expect(intervalsFromHistory(rows, { lockTimes: 'required' }).map((i) => i.jobId)).toEqual(['2']);
  });
});
