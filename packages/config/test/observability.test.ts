/** The `health` and `notifications` sections and their per-database overrides. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactConfig, type Config } from '../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mfb-config-obs-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function load(yaml: string): Config {
  const file = path.join(dir, 'c.yaml');
  writeFileSync(file, yaml, { mode: 0o600 });
  return loadConfig({ file, env: {}, cwd: dir });
}

function problems(yaml: string): string[] {
  try {
    load(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError & { problems: string[] }).problems;
  }
  throw new Error('expected a ConfigError');
}

const SLACK = 'https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX';

describe('health and notifications config', () => {
  it('defaults: thresholds on, verify age off, no notifications', () => {
    const c = load('databases:\n  - { id: a, path: a.db }\n');
    expect(c.health).toEqual({ maxAgeIntervals: 2, failedBackups: 3, verifyMaxAgeDays: 0, diskFreePercent: 10, targetProbe: true, targetProbeTimeoutMs: 2000, targetProbeCacheSeconds: 60, cacheSeconds: 5 });
    expect(c.notifications).toEqual({ webhooks: [], timeoutMs: 5000, attempts: 4, backoffMs: 1000, queueSize: 1000 });
    expect(c.databases[0]!.health).toBeUndefined();
    expect(c.databases[0]!.notifications).toBeUndefined();
  });

  it('global settings, per-database overrides, and webhook formats', () => {
    const c = load(`
health: { maxAgeIntervals: 1.5, failedBackups: 2, verifyMaxAgeDays: 7, diskFreePercent: 5 }
notifications:
  webhooks:
    - { url: "${SLACK}", format: slack }
    - { url: "https://example.org/hook", events: [failure] }
  heartbeatUrl: https://hc-ping.com/0b1c
  attempts: 6
databases:
  - id: a
    path: a.db
    health: { maxAgeSeconds: 93600, failedBackups: 1 }
    notifications: { heartbeatUrl: "https://hc-ping.com/aaaa", webhooks: [{ url: "https://discord.com/api/webhooks/1/tok", format: discord }] }
`);
    expect(c.health).toMatchObject({ maxAgeIntervals: 1.5, failedBackups: 2, verifyMaxAgeDays: 7, diskFreePercent: 5 });
    expect(c.notifications.webhooks).toEqual([
      { url: SLACK, format: 'slack' },
      { url: 'https://example.org/hook', format: 'json', events: ['failure'] },
    ]);
    expect(c.notifications).toMatchObject({ heartbeatUrl: 'https://hc-ping.com/0b1c', attempts: 6 });
    expect(c.databases[0]!.health).toEqual({ maxAgeSeconds: 93600, failedBackups: 1 });
    expect(c.databases[0]!.notifications).toEqual({ heartbeatUrl: 'https://hc-ping.com/aaaa', webhooks: [{ url: 'https://discord.com/api/webhooks/1/tok', format: 'discord' }] });

    const text = JSON.stringify(redactConfig(c));
    for (const secret of ['XXXXSECRETXXXX', '0b1c', 'aaaa', '/tok']) expect(text).not.toContain(secret);
    expect(text).toContain('https://hooks.slack.com/REDACTED');
  });

  it('bad values fail at boot naming the field, without echoing webhook URLs', () => {
    const p = problems(`
health: { maxAgeIntervals: 0, failedBackups: 1.5, diskFreePercent: 100, nope: 1 }
notifications:
  webhooks:
    - { url: "ftp://secret-host/x", format: teams }
    - { format: json }
databases:
  - { id: a, path: a.db, health: { targetProbe: false } }
`);
    const text = p.join('\n');
    expect(text).toMatch(/health\.maxAgeIntervals: must be 1-1000, got 0/);
    expect(text).toMatch(/health\.failedBackups: must be an integer/);
    expect(text).toMatch(/health\.diskFreePercent: must be 0-99, got 100/);
    expect(text).toMatch(/health\.nope: unknown option/);
    expect(text).toMatch(/notifications\.webhooks\[0\]\.url: must be an http\(s\) URL/);
    expect(text).toMatch(/notifications\.webhooks\[0\]\.format: must be one of json, slack, discord/);
    expect(text).toMatch(/notifications\.webhooks\[1\]\.url: is required/);
    expect(text).toMatch(/databases\[0\]\.health\.targetProbe: unknown option/);
    expect(text).not.toContain('secret-host');
  });
});
