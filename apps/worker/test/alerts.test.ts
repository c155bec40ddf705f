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
      expect(check.out).toContain('SUCCESS: 10 rules found');
      expect(check.ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the compose stack (docker-compose.yml; `docker-compose config` validates it in scripts/test)', () => {
  it('runs Redis (AOF, noeviction), API, worker, Prometheus with the rules and a provisioned Grafana', async () => {
    const compose = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8');
    const service = (name: string): string => {
      const m = new RegExp(`\\n  ${name}:\\n((?:    .*\\n|\\s*\\n)+)`).exec(compose);
      expect(m, `service ${name}`).not.toBeNull();
      return m![1]!;
    };
    expect(service('redis')).toMatch(/--appendonly", "yes", "--maxmemory-policy", "noeviction"/);
    expect(service('api')).toContain('apps/api/dist/main.js');
    expect(service('worker')).toContain('MFB_METRICS_HOST: 0.0.0.0');
    const prom = service('prometheus');
    expect(prom).toContain('./ops/prometheus:/etc/prometheus:ro');
    expect(prom).toContain('--config.file=/etc/prometheus/prometheus.yml');
    const grafana = service('grafana');
    expect(grafana).toContain('./ops/grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(grafana).toContain('./ops/grafana/dashboards:/var/lib/grafana/dashboards:ro');
    // What those mounts point at exists, and the targets Prometheus scrapes are the services.
    const promCfg = await readFile(join(PROM, 'prometheus.yml'), 'utf8');
    expect(promCfg).toContain('targets: ["worker:9464"]');
    expect(promCfg).toContain('targets: ["api:8080"]');
    const ds = await readFile(join(ROOT, 'ops/grafana/provisioning/datasources/prometheus.yml'), 'utf8');
    expect(ds).toContain('url: http://prometheus:9090');
    expect(ds).toContain('uid: mfb-prometheus');
    const provider = await readFile(join(ROOT, 'ops/grafana/provisioning/dashboards/mfb.yml'), 'utf8');
    expect(provider).toContain('path: /var/lib/grafana/dashboards');
    const dash = JSON.parse(await readFile(join(ROOT, 'ops/grafana/dashboards/myfinance-backup.json'), 'utf8')) as { panels: Array<{ datasource?: { uid: string } }> };
    for (const p of dash.panels) if (p.datasource) expect(p.datasource.uid).toBe('mfb-prometheus');
  });
});
