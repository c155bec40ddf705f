import { spawn } from 'node:child_process';
import { readFileSync, rmSync, mkdtempSync, readdirSync, statSync, lstatSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir, release } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export interface Timed {
  /** Wall time measured around the process, in seconds. */
  wallS: number;
  /** `Maximum resident set size` of the largest process in the tree (`/usr/bin/time -v`), in bytes. */
  maxRssBytes: number;
  userS: number;
  sysS: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `cmd args` under `/usr/bin/time -v` and return wall time, peak RSS and CPU time.
 * Rejects with the process's stderr when it exits non-zero.
 */
export function timed(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Timed> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-time-'));
  const out = join(dir, 'time.txt');
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-v', '-o', out, cmd, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallS = Number(process.hrtime.bigint() - started) / 1e9;
      let report = '';
      try {
        report = readFileSync(out, 'utf8');
      } catch {
        /* time did not write a report (spawn failure) */
      }
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      const num = (re: RegExp) => Number(re.exec(report)?.[1] ?? NaN);
      resolve({
        wallS,
        maxRssBytes: num(/Maximum resident set size \(kbytes\): (\d+)/) * 1024,
        userS: num(/User time \(seconds\): ([\d.]+)/),
        sysS: num(/System time \(seconds\): ([\d.]+)/),
        stdout,
        stderr,
      });
    });
  });
}

/** `sh -c script` under `/usr/bin/time -v`. */
export function timedShell(script: string, env?: NodeJS.ProcessEnv): Promise<Timed> {
  return timed('/bin/sh', ['-c', script], { env });
}

/** Total size of the regular files under `path` (like `du -sb --apparent-size`). */
export function treeSize(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of readdirSync(path)) total += treeSize(join(path, e));
  return total;
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

function tryExec(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return (e.stdout || e.stderr || 'n/a').toString().trim();
  }
}

/** What the numbers were measured on. */
export function machineInfo(): Record<string, string> {
  return {
    cpu: `${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    node: process.version,
    sqlite3: tryExec('sqlite3', ['--version']).split(' ').slice(0, 2).join(' '),
    pigz: tryExec('pigz', ['--version']),
    gzip: tryExec('gzip', ['--version']).split('\n')[0] ?? '',
    restic: tryExec('restic', ['version']).split(' compiled')[0] ?? '',
    loadavg: loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const MiB = 1024 * 1024;
