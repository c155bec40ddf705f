import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const run = promisify(execFile);
const PROM = join(ROOT, 'ops/prometheus');

/** `promtool ...`: its combined output, and whether it succeeded. */
async function promtool(args: string[], cwd = PROM): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run('promtool', args, { cwd });
    return { ok: true, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
  }
}

describe('Prometheus alert rules (ops/prometheus, Debian promtool)', () => {
  it('the rules are valid and pass their unit tests (alerts.test.yml)', async () => {
    const check = await promtool(['check', 'rules', 'alerts.yml']);
    expect(check.out).toContain('SUCCESS');
    expect(check.ok).toBe(true);
    const tests = await promtool(['test', 'rules', 'alerts.test.yml']);
    expect(tests.out).toContain('SUCCESS');
    expect(tests.ok).toBe(true);
  });

  it('the unit tests can fail: a rule with a wrong threshold is caught', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mfb-alerts-'));
    try {
      const rules = await readFile(join(PROM, 'alerts.yml'), 'utf8');
      expect(rules).toContain('> 26 * 3600');
      await writeFile(join(dir, 'alerts.yml'), rules.replace('> 26 * 3600', '> 27 * 3600'));
      await writeFile(join(dir, 'alerts.test.yml'), await readFile(join(PROM, 'alerts.test.yml'), 'utf8'));
      const tests = await promtool(['test', 'rules', 'alerts.test.yml'], dir);
      expect(tests.ok).toBe(false);
      expect(tests.out).toContain('MfbBackupTooOld');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every alert has a unit test, a runbook link and a section in docs/operations.md', async () => {
    const rules = await readFile(join(PROM, 'alerts.yml'), 'utf8');
    const tests = await readFile(join(PROM, 'alerts.test.yml'), 'utf8');
    const doc = await readFile(join(ROOT, 'docs/operations.md'), 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const a of alerts) {
      expect(tests, `unit test of ${a}`).toContain(`alertname: ${a}\n        exp_alerts:\n          - exp_labels`);
      expect(rules, `runbook of ${a}`).toContain(`runbook: docs/operations.md#${a.toLowerCase()}`);
      expect(doc, `docs section of ${a}`).toContain(`#### ${a}\n`);
    }
  });

  it('the Prometheus config of the compose stack loads the rules', async () => {
    const cfg = await readFile(join(PROM, 'prometheus.yml'), 'utf8');
    expect(cfg).toMatch(/rule_files:\n\s+- alerts\.yml/);
    // promtool resolves the rule file relative to the config; the API key file only exists in a deployment.
    const dir = await mkdtemp(join(tmpdir(), 'mfb-promcfg-'));
    try {
      await writeFile(join(dir, 'key'), 'k\n');
      await writeFile(join(dir, 'prometheus.yml'), cfg.replace('/etc/mfb-config/prometheus-api-key', join(dir, 'key')));
      await writeFile(join(dir, 'alerts.yml'), await readFile(join(PROM, 'alerts.yml'), 'utf8'));
      const check = await promtool(['check', 'config', 'prometheus.yml'], dir);
      expect(check.out).toContain('SUCCESS: 8 rules found');
      expect(check.ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
