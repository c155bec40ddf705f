import type { HealthReport, Level } from '../../services/health.js';
import { STATUS_CSS } from './styles.js';

/** What the status page shows beyond the health report. */
export interface StatusPageData {
  report: HealthReport;
  /** Sizes of recent backups per database, oldest first. */
  sizes: ReadonlyMap<string, ReadonlyArray<{ createdAt: string; sizeBytes: number }>>;
  /** The incremental chain of each database's newest backup (formatVersion 2 only). */
  chains?: ReadonlyMap<string, ChainView>;
  queues: ReadonlyArray<{ name: string; counts: Readonly<Record<string, number>> }>;
  /** Newest first. */
  failures: ReadonlyArray<{ databaseId: string; name: string; finishedAt: string; error: string | null; jobId: string }>;
  version: string;
}

/** The chain a restore of a database's newest backup reads: its full base and the deltas after it. */
export interface ChainView {
  /** Deltas after the base (0: the newest backup is a full). */
  length: number;
  baseCreatedAt: string;
  /** Stored artifact bytes of the base, and of the deltas together. */
  fullBytes: number;
  deltaBytes: number;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function ago(iso: string | null, now: Date): string {
  if (!iso) return 'never';
  const s = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  const abs = Math.abs(s);
  const v = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : abs < 129_600 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86_400)} d`;
  return s >= 0 ? `${v} ago` : `in ${v}`;
}

/** An inline SVG line of `values` (no script, no external resource). */
export function sparkline(values: readonly number[], label: string): string {
  const w = 120;
  const h = 28;
  if (values.length === 0) return `<span class="muted">no backups</span>`;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const pts = values.map((v, i) => {
    const x = values.length === 1 ? w / 2 : (i * (w - 4)) / (values.length - 1) + 2;
    const y = h - 3 - ((v - min) / span) * (h - 6);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const last = pts.at(-1)!.split(',');
  return (
    `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${esc(label)}">` +
    `<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${pts.join(' ')}"/>` +
    `<circle cx="${last[0]}" cy="${last[1]}" r="2.5" fill="currentColor"/></svg>`
  );
}

/** `full + 3 deltas · base 2 d ago · deltas 12 KiB (4% of the full's 300 KiB)` */
export function chainText(c: ChainView, now: Date): string {
  const head = c.length === 0 ? 'full, no deltas yet' : `full + ${c.length} delta${c.length === 1 ? '' : 's'}`;
  const pct = c.fullBytes > 0 ? Math.round((c.deltaBytes / c.fullBytes) * 100) : 0;
  return esc(`${head} · base ${ago(c.baseCreatedAt, now)} · deltas ${formatBytes(c.deltaBytes)} (${pct}% of the full's ${formatBytes(c.fullBytes)})`);
}

const badge = (l: Level | string): string => `<span class="badge ${esc(l)}">${esc(l)}</span>`;

/** The whole page: server-rendered HTML with its CSS inline (no script, nothing fetched). */
export function renderStatusPage(d: StatusPageData, now: Date): string {
  const r = d.report;
  const counts = { ok: 0, warning: 0, critical: 0 };
  for (const db of r.databases) counts[db.status]++;
  const order: Record<Level, number> = { critical: 0, warning: 1, ok: 2 };
  const dbs = [...r.databases].sort((a, b) => order[a.status] - order[b.status] || a.id.localeCompare(b.id));

  const cards = dbs
    .map((db) => {
      const sizes = d.sizes.get(db.id) ?? [];
      const lastSize = sizes.at(-1)?.sizeBytes;
      const chain = d.chains?.get(db.id);
      const reasons = db.reasons.length ? `<ul class="reasons">${db.reasons.map((x) => `<li class="${x.status}">${esc(x.message)}</li>`).join('')}</ul>` : '';
      return `<article class="db ${db.status}" data-database="${esc(db.id)}" data-status="${db.status}">
<header><h3>${esc(db.id)}</h3>${badge(db.status)}</header>
${reasons}
<dl>
<dt>Last backup</dt><dd>${esc(ago(db.lastSuccessAt, now))}${lastSize !== undefined ? ` · ${esc(formatBytes(lastSize))}` : ''}</dd>
<dt>Next run</dt><dd>${db.nextRunAt ? esc(ago(db.nextRunAt, now)) : '<span class="muted">not scheduled</span>'}</dd>
<dt>Verified</dt><dd>${esc(ago(db.lastVerifiedAt, now))}</dd>
${chain ? `<dt>Chain</dt><dd data-chain-length="${chain.length}">${chainText(chain, now)}</dd>
` : ''}<dt>Size trend</dt><dd>${sparkline(sizes.map((s) => s.sizeBytes), `size of the last ${sizes.length} backups of ${db.id}`)}</dd>
</dl>
</article>`;
    })
    .join('\n');

  const queues = d.queues
    .map((q) => `<tr><th scope="row">${esc(q.name)}</th>${['waiting', 'active', 'delayed', 'failed'].map((k) => `<td>${q.counts[k] ?? 0}</td>`).join('')}</tr>`)
    .join('');

  const failures = d.failures.length
    ? `<ul class="failures">${d.failures
        .map((f) => `<li><time datetime="${esc(f.finishedAt)}">${esc(ago(f.finishedAt, now))}</time> <b>${esc(f.databaseId)}</b> ${esc(f.name)}: <span class="err">${esc((f.error ?? 'unknown error').slice(0, 300))}</span></li>`)
        .join('')}</ul>`
    : '<p class="muted">No failures recorded.</p>';

  const infra = [
    ...r.volumes.map((v) => `<li>${badge(v.status)} ${esc(v.name)} volume: ${v.freePercent !== null ? `${v.freePercent}% free (${esc(formatBytes(v.freeBytes ?? 0))})` : esc(v.error ?? 'unknown')}</li>`),
    ...r.targets.map((t) => `<li>${badge(t.status === 'unreachable' ? 'critical' : t.status === 'ok' ? 'ok' : 'unchecked')} target ${esc(t.name)}${t.error ? `: ${esc(t.error)}` : ''}</li>`),
  ].join('');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>${r.status === 'ok' ? '' : `(${r.status}) `}Backup status · MyFinance Backup</title>
<style>${STATUS_CSS}</style>
</head>
<body>
<header class="top ${r.status}">
<h1>Backup status</h1>
<p class="overall" data-overall="${r.status}">${badge(r.status)} <span>${counts.ok} ok · ${counts.warning} warning · ${counts.critical} critical</span></p>
<p class="muted">Checked ${esc(r.checkedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} · refreshes every minute</p>
</header>
<main>
<section aria-labelledby="h-db"><h2 id="h-db">Databases</h2><div class="grid">${cards || '<p class="muted">No databases configured.</p>'}</div></section>
<section aria-labelledby="h-fail"><h2 id="h-fail">Recent failures</h2>${failures}</section>
<section aria-labelledby="h-q"><h2 id="h-q">Queues</h2>
<div class="scroll"><table class="queues"><thead><tr><th>Queue</th><th>waiting</th><th>active</th><th>delayed</th><th>failed</th></tr></thead><tbody>${queues}</tbody></table></div></section>
${infra ? `<section aria-labelledby="h-infra"><h2 id="h-infra">Storage</h2><ul class="infra">${infra}</ul></section>` : ''}
</main>
<footer class="muted">MyFinance Backup ${esc(d.version)} · <a href="/v1/health">/v1/health</a> · <a href="/docs">API docs</a></footer>
</body>
</html>
`;
}
