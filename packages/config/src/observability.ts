/** The `health` and `notifications` sections (global) and their per-database overrides. */
import { join, list, mapping, optBool, optInt, optStr, show, type Problems } from './validate.js';
import type { DatabaseHealthConfig, DatabaseNotificationsConfig, HealthConfig, NotificationsConfig, WebhookConfig } from './types.js';

type Raw = Record<string, unknown>;

export const HEALTH_DEFAULTS = Object.freeze({
  maxAgeIntervals: 2,
  failedBackups: 3,
  verifyMaxAgeDays: 0,
  diskFreePercent: 10,
  targetProbeTimeoutMs: 2000,
  targetProbeCacheSeconds: 60,
  cacheSeconds: 5,
});

export const NOTIFY_DEFAULTS = Object.freeze({ timeoutMs: 5000, attempts: 4, backoffMs: 1000, queueSize: 1000 });

const THRESHOLD_KEYS = ['maxAgeIntervals', 'maxAgeSeconds', 'failedBackups', 'verifyMaxAgeDays'] as const;
const FORMATS = ['json', 'slack', 'discord'] as const;
const EVENTS = ['failure', 'recovery'] as const;

function optNum(p: Problems, o: Raw, key: string, path: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    p.add(join(path, key), `must be a number ${min}-${max}, got ${show(v)}`);
    return undefined;
  }
  return v;
}

function thresholds(p: Problems, o: Raw, path: string): DatabaseHealthConfig {
  const out: { -readonly [K in keyof DatabaseHealthConfig]: DatabaseHealthConfig[K] } = {};
  const a = optNum(p, o, 'maxAgeIntervals', path, 1, 1000);
  if (a !== undefined) out.maxAgeIntervals = a;
  const s = optInt(p, o, 'maxAgeSeconds', path, 60, 10 * 366 * 86_400);
  if (s !== undefined) out.maxAgeSeconds = s;
  const f = optInt(p, o, 'failedBackups', path, 1, 1000);
  if (f !== undefined) out.failedBackups = f;
  const v = optInt(p, o, 'verifyMaxAgeDays', path, 0, 3660);
  if (v !== undefined) out.verifyMaxAgeDays = v;
  return out;
}

/** `health:` (thresholds for `/v1/health`). */
export function parseHealth(p: Problems, v: unknown): HealthConfig {
  const o = mapping(p, v, 'health', [...THRESHOLD_KEYS, 'diskFreePercent', 'targetProbe', 'targetProbeTimeoutMs', 'targetProbeCacheSeconds', 'cacheSeconds']) ?? {};
  const t = thresholds(p, o, 'health');
  return {
    maxAgeIntervals: t.maxAgeIntervals ?? HEALTH_DEFAULTS.maxAgeIntervals,
    ...(t.maxAgeSeconds !== undefined ? { maxAgeSeconds: t.maxAgeSeconds } : {}),
    failedBackups: t.failedBackups ?? HEALTH_DEFAULTS.failedBackups,
    verifyMaxAgeDays: t.verifyMaxAgeDays ?? HEALTH_DEFAULTS.verifyMaxAgeDays,
    diskFreePercent: optNum(p, o, 'diskFreePercent', 'health', 0, 99) ?? HEALTH_DEFAULTS.diskFreePercent,
    targetProbe: optBool(p, o, 'targetProbe', 'health') ?? true,
    targetProbeTimeoutMs: optInt(p, o, 'targetProbeTimeoutMs', 'health', 100, 60_000) ?? HEALTH_DEFAULTS.targetProbeTimeoutMs,
    targetProbeCacheSeconds: optInt(p, o, 'targetProbeCacheSeconds', 'health', 0, 86_400) ?? HEALTH_DEFAULTS.targetProbeCacheSeconds,
    cacheSeconds: optInt(p, o, 'cacheSeconds', 'health', 0, 3600) ?? HEALTH_DEFAULTS.cacheSeconds,
  };
}

/** `databases[i].health`: overrides of the global thresholds. */
export function parseDatabaseHealth(p: Problems, v: unknown, path: string): DatabaseHealthConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const o = mapping(p, v, path, THRESHOLD_KEYS);
  return o ? thresholds(p, o, path) : undefined;
}

function httpUrl(p: Problems, o: Raw, key: string, path: string, required: boolean): string | undefined {
  if (required && (o[key] === undefined || o[key] === null)) {
    p.add(join(path, key), 'is required');
    return undefined;
  }
  // Webhook and ping URLs carry their secret in the path: never echo them.
  const url = optStr(p, o, key, path, { secret: true });
  if (url === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    p.add(join(path, key), 'must be an http(s) URL');
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    p.add(join(path, key), `must be an http(s) URL, got scheme ${u.protocol}`);
    return undefined;
  }
  return url;
}

function webhooks(p: Problems, v: unknown, path: string): WebhookConfig[] {
  const out: WebhookConfig[] = [];
  list(p, v, path).forEach((item, i) => {
    const wp = join(path, i);
    const o = mapping(p, item, wp, ['url', 'format', 'events']);
    if (!o) return;
    const url = httpUrl(p, o, 'url', wp, true);
    const format = (optStr(p, o, 'format', wp, { oneOf: FORMATS }) ?? 'json') as WebhookConfig['format'];
    let events: WebhookConfig['events'] | undefined;
    if (o['events'] !== undefined) {
      const ev = list(p, o['events'], join(wp, 'events'));
      const bad = ev.filter((e) => !(EVENTS as readonly unknown[]).includes(e));
      if (bad.length) p.add(join(wp, 'events'), `must be a list of ${EVENTS.join(', ')}, got ${show(bad[0])}`);
      else events = [...new Set(ev as Array<'failure' | 'recovery'>)];
    }
    if (url !== undefined) out.push({ url, format, ...(events ? { events } : {}) });
  });
  return out;
}

/** `notifications:` (webhooks and heartbeat for every database, delivery settings). */
export function parseNotifications(p: Problems, v: unknown): NotificationsConfig {
  const o = mapping(p, v, 'notifications', ['webhooks', 'heartbeatUrl', 'timeoutMs', 'attempts', 'backoffMs', 'queueSize']) ?? {};
  const heartbeatUrl = httpUrl(p, o, 'heartbeatUrl', 'notifications', false);
  return {
    webhooks: o['webhooks'] === undefined ? [] : webhooks(p, o['webhooks'], 'notifications.webhooks'),
    ...(heartbeatUrl !== undefined ? { heartbeatUrl } : {}),
    timeoutMs: optInt(p, o, 'timeoutMs', 'notifications', 100, 120_000) ?? NOTIFY_DEFAULTS.timeoutMs,
    attempts: optInt(p, o, 'attempts', 'notifications', 1, 20) ?? NOTIFY_DEFAULTS.attempts,
    backoffMs: optInt(p, o, 'backoffMs', 'notifications', 0, 600_000) ?? NOTIFY_DEFAULTS.backoffMs,
    queueSize: optInt(p, o, 'queueSize', 'notifications', 1, 1_000_000) ?? NOTIFY_DEFAULTS.queueSize,
  };
}

/** `databases[i].notifications`: extra webhooks, and a heartbeat URL that replaces the global one. */
export function parseDatabaseNotifications(p: Problems, v: unknown, path: string): DatabaseNotificationsConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const o = mapping(p, v, path, ['webhooks', 'heartbeatUrl']);
  if (!o) return undefined;
  const heartbeatUrl = httpUrl(p, o, 'heartbeatUrl', path, false);
  return { webhooks: o['webhooks'] === undefined ? [] : webhooks(p, o['webhooks'], join(path, 'webhooks')), ...(heartbeatUrl !== undefined ? { heartbeatUrl } : {}) };
}

/** Webhook and heartbeat URLs with everything after the host replaced (their secrets live in the path). */
export function redactHookUrls<T extends { webhooks: readonly WebhookConfig[]; heartbeatUrl?: string }>(n: T): T {
  const r = (url: string): string => {
    try {
      const u = new URL(url);
      return `${u.protocol}//${u.host}/REDACTED`;
    } catch {
      return 'REDACTED';
    }
  };
  return { ...n, webhooks: n.webhooks.map((w) => ({ ...w, url: r(w.url) })), ...(n.heartbeatUrl !== undefined ? { heartbeatUrl: r(n.heartbeatUrl) } : {}) };
}
