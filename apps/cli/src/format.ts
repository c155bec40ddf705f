/** Human-readable formatting for terminal output. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A backup's age: `45s`, `12m`, `5h 12m`, `3d 4h`, `400d`. */
export function age(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  if (s < 100 * 86400) return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Left-aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `key: value` lines with aligned values. */
export function fields(pairs: Array<[string, string | number | null | undefined]>): string {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const w = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${v ?? '-'}`).join('\n');
}

/**
 * KIND and PARENT cells of a backup: `full` (`full (compacted)` for one `compact` made) or
 * `delta+N` (the N-th delta of its chain), and the parent's id (`-` for a full).
 */
export function chainCells(b: { kind: 'full' | 'delta'; chainLength: number; parentId: string | null; compactedFrom?: string | null }): [string, string] {
  return [b.kind === 'delta' ? `delta+${b.chainLength}` : b.compactedFrom ? 'full (compacted)' : 'full', b.parentId ?? '-'];
}
