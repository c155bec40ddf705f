import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TSX = resolve(ROOT, 'node_modules/.bin/tsx');

/** Start `script` (default the API, bench/api/server.ts) in a child process; resolves with its URL. */
export async function startServer(args: string[], script = 'bench/api/server.ts'): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(TSX, ['--conditions=@mfb/source', resolve(ROOT, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  const rl = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`bench server exited with ${code}`)));
    rl.once('line', (line) => ok((JSON.parse(line) as { url: string }).url));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((ok) => {
        child.removeAllListeners('exit');
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}

/** Percentile of a sorted array (nearest rank). */
export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}
