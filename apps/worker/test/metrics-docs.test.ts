import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry, createMetrics } from '@mfb/observability';
import { ROOT } from './helpers.js';

interface Family {
  type: string;
  labels: string[];
}

/** The metrics table of docs/operations.md (between the metrics-table markers). */
async function documented(): Promise<Map<string, Family>> {
  const doc = await readFile(join(ROOT, 'docs/operations.md'), 'utf8');
  const start = doc.indexOf('<!-- metrics-table:start -->');
  const end = doc.indexOf('<!-- metrics-table:end -->');
  expect(start, 'metrics table markers in docs/operations.md').toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  const out = new Map<string, Family>();
  for (const line of doc.slice(start, end).split('\n')) {
    const m = /^\| `([a-z_:]+)` \| (\w+) \| ([^|]*) \|/.exec(line);
    if (!m) continue;
    expect(out.has(m[1]!), `${m[1]} listed twice`).toBe(false);
    out.set(m[1]!, { type: m[2]!, labels: m[3]!.split(',').map((s) => s.trim()).filter(Boolean).sort() });
  }
  return out;
}

/** Every family `createMetrics` declares (without prom-client's process defaults). */
async function declared(): Promise<Map<string, Family>> {
  const { registry } = createMetrics(new Registry());
  const out = new Map<string, Family>();
  for (const { name } of registry.getMetricsAsArray()) {
    const metric = registry.getSingleMetric(name)!;
    const { type } = await metric.get();
    const labels = [...((metric as unknown as { labelNames?: string[] }).labelNames ?? [])].sort();
    out.set(name, { type: String(type), labels });
  }
  return out;
}

describe('metrics documentation (docs/operations.md) equals the code (packages/observability)', () => {
  it('same metric names, types and label sets', async () => {
    const [docs, code] = await Promise.all([documented(), declared()]);
    expect(docs.size).toBeGreaterThan(10);
    expect([...docs.keys()].sort()).toEqual([...code.keys()].sort());
    for (const [name, fam] of code) expect(docs.get(name), name).toEqual(fam);
  });

  it('labels are the low-cardinality set only, names are prefixed', async () => {
    const allowed = new Set(['database', 'target', 'queue', 'stage', 'outcome', 'code', 'state', 'volume', 'host', 'method', 'route', 'status', 'kind']);
    for (const [name, fam] of await declared()) {
      expect(name).toMatch(/^mfb_[a-z_]+$/);
      for (const l of fam.labels) expect(allowed.has(l), `${name}: label ${l}`).toBe(true);
      // Prometheus conventions promtool checks: counters end in _total, nothing else does.
      expect(name.endsWith('_total'), name).toBe(fam.type === 'counter');
    }
  });
});
