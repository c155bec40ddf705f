import { spawn } from 'node:child_process';

/** How a process a test ran ended: its exit code (-1 when killed by a signal) and its output. */
export interface ProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `command args` to its end, collecting stdout and stderr (no stdin). */
export function runProcess(command: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<ProcessRun> {
  return new Promise((res, rej) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}
