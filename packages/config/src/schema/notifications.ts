/** `notifications`: failure/recovery webhooks and heartbeat pings (and `databases[].notifications`). */
import { Type } from '@sinclair/typebox';
import type { WebhookConfig } from '../types.js';
import type { Problems } from '../validate.js';
import { Int, OneOf } from './common.js';

export const NOTIFY_DEFAULTS = Object.freeze({ timeoutMs: 5000, attempts: 4, backoffMs: 1000, queueSize: 1000 });

/** An http(s) URL whose path usually is the secret (Slack, Discord, healthchecks.io): never echoed. */
function refineHookUrl(url: string, path: string, p: Problems): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    p.add(path, 'must be an http(s) URL');
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    p.add(path, `must be an http(s) URL, got scheme ${u.protocol}`);
    return undefined;
  }
  return url;
}

const HookUrl = (description: string) => Type.String({ description, secret: true, refine: refineHookUrl });

export const WebhookSchema = Type.Object(
  {
    url: HookUrl('POSTed to on failure and recovery; a secret (never logged)'),
    format: Type.Optional(OneOf(['json', 'slack', 'discord'], 'body shape; default json')),
    events: Type.Optional(Type.Array(OneOf(['failure', 'recovery'], 'which messages'), { description: 'default both' })),
  },
  { additionalProperties: false },
);

const routes = {
  webhooks: Type.Optional(Type.Array(WebhookSchema, { description: 'one message when a job finally fails, one when it succeeds again' })),
  heartbeatUrl: Type.Optional(HookUrl('pinged after each successful backup, <url>/fail after a failed one')),
};

/** `databases[].notifications`: webhooks added to the global ones; a heartbeat replacing the global one. */
export const DatabaseNotificationsSchema = Type.Object(routes, { additionalProperties: false });

export const NotificationsSchema = Type.Object(
  {
    ...routes,
    timeoutMs: Type.Optional(Int(100, 120_000, `per HTTP attempt; default ${NOTIFY_DEFAULTS.timeoutMs}`)),
    attempts: Type.Optional(Int(1, 20, `tries per message; default ${NOTIFY_DEFAULTS.attempts}`)),
    backoffMs: Type.Optional(Int(0, 600_000, `first retry delay, doubled each time; default ${NOTIFY_DEFAULTS.backoffMs}`)),
    queueSize: Type.Optional(Int(1, 1_000_000, `pending messages per worker at most; default ${NOTIFY_DEFAULTS.queueSize}`)),
  },
  { additionalProperties: false },
);

/** Raw webhook entries after the schema check -> config (defaults, invalid entries dropped). */
export function webhooksOf(list: Array<{ url?: string; format?: WebhookConfig['format']; events?: Array<'failure' | 'recovery' | undefined> } | undefined> | undefined): WebhookConfig[] {
  const out: WebhookConfig[] = [];
  for (const w of list ?? []) {
    if (w?.url === undefined) continue;
    const events = w.events ? [...new Set(w.events.filter((e): e is 'failure' | 'recovery' => e !== undefined))] : undefined;
    out.push({ url: w.url, format: w.format ?? 'json', ...(events ? { events } : {}) });
  }
  return out;
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
