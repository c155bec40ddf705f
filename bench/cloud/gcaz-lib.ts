/**
 * Shared by bench/cloud/azure.ts and bench/cloud/gcs.ts: run each measured step in its own
 * process under `/usr/bin/time -v` (peak RSS of that step alone), alternate ours / SDK in the
 * same run, and report medians and ratios.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

export const GiB = 1024 * 1024 * 1024;

/** Write `bytes` of random data to `file` (the artifact both sides upload). */
export async function makeArtifact(file: string, bytes: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    for (let done = 0; done < bytes; done += chunk.length) {
      randomFillSync(chunk);
      await fh.write(chunk, 0, Math.min(chunk.length, bytes - done));
    }
  } finally {
    await fh.close();
  }
}

/** Read a download to the end, counting bytes. */
export async function drain(r: Readable | NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  for await (const c of r as AsyncIterable<Buffer>) n += c.length;
  return n;
}

export interface StepResult {
  mode: string;
  seconds: number;
  peakRssMiB: number;
  bytes: number;
}

/** Run `tsx <script> --child <mode> <args...>` under /usr/bin/time -v; the child prints `{"seconds","bytes"}`. */
export async function runStep(script: string, mode: string, args: string[]): Promise<StepResult> {
  const child = spawn('/usr/bin/time', ['-v', 'node_modules/.bin/tsx', script, '--child', mode, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`step ${mode} failed (exit ${code}):\n${err.slice(-3000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
  const line = out.trim().split('\n').pop() ?? '{}';
  const r = JSON.parse(line) as { seconds: number; bytes: number };
  return { mode, seconds: r.seconds, bytes: r.bytes, peakRssMiB: rss ? Number(rss[1]) / 1024 : NaN };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Alternate the modes `reps` times; returns every run per mode. */
export async function alternate(script: string, modes: string[], reps: number, args: string[]): Promise<Map<string, StepResult[]>> {
  const all = new Map<string, StepResult[]>(modes.map((m) => [m, []]));
  for (let i = 0; i < reps; i++) {
    for (const m of i % 2 ? [...modes].reverse() : modes) {
      const r = await runStep(script, m, args);
      all.get(m)!.push(r);
      process.stderr.write(`  rep ${i + 1} ${m}: ${r.seconds.toFixed(2)} s, peak RSS ${r.peakRssMiB.toFixed(1)} MiB\n`);
    }
  }
  return all;
}

/** Markdown rows: ours vs SDK for upload and download. */
export function report(title: string, all: Map<string, StepResult[]>, pairs: Array<[string, string, string]>): string {
  const lines = [`### ${title}`, '', '| step | ours (median) | SDK (median) | ratio | ours peak RSS (max) | SDK peak RSS (max) | runs |', '|---|---|---|---|---|---|---|'];
  for (const [label, ours, sdk] of pairs) {
    const o = all.get(ours)!;
    const s = all.get(sdk)!;
    const om = median(o.map((r) => r.seconds));
    const sm = median(s.map((r) => r.seconds));
    const runs = `ours ${o.map((r) => r.seconds.toFixed(2)).join(' / ')}; SDK ${s.map((r) => r.seconds.toFixed(2)).join(' / ')}`;
    lines.push(
      `| ${label} | ${om.toFixed(2)} s | ${sm.toFixed(2)} s | **${(om / sm).toFixed(3)}** | ${Math.max(...o.map((r) => r.peakRssMiB)).toFixed(1)} MiB | ${Math.max(...s.map((r) => r.peakRssMiB)).toFixed(1)} MiB | ${runs} |`,
    );
  }
  return lines.join('\n');
}

/** Time `fn` and print the child's JSON line. */
export async function childMain(fn: () => Promise<number>): Promise<void> {
  const t0 = process.hrtime.bigint();
  const bytes = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ seconds, bytes }) + '\n');
}
