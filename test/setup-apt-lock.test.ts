/**
 * scripts/setup waits (bounded, with a message) when another apt-get/dpkg holds the package
 * manager's lock, instead of failing at once. Real apt-get against a real lock: a python3
 * process holds /var/lib/dpkg/lock-frontend with fcntl (apt's own kind of lock; `flock(1)`
 * takes a different kind that apt does not see) for a few seconds while `apt_get check` runs.
 * Needs root (the lock file is root's): skipped, saying so, otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LOCK = '/var/lib/dpkg/lock-frontend';
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const usable = process.getuid?.() === 0 && has('apt-get') && has('python3');
if (!usable) console.warn('SKIPPED setup-apt-lock: needs root, apt-get and python3');

let holder: ChildProcess | undefined;
afterEach(() => {
  holder?.kill('SIGKILL');
  holder = undefined;
});

/** Holds apt's lock for `seconds`; resolves once it is held. */
async function holdLock(seconds: number): Promise<void> {
  const py = `import fcntl,sys,time\nf=open('${LOCK}','w')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('held',flush=True)\ntime.sleep(${seconds})`;
  holder = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(holder.stdout!, 'data');
}

function aptGet(waitSeconds: number, ...args: string[]) {
  return new Promise<{ status: number | null; stderr: string }>((done) => {
    const c = spawn('bash', ['-c', `set -euo pipefail; . scripts/lib/apt.sh; apt_get "$@"`, 'apt_get', ...args], {
      cwd: repo,
      env: { ...process.env, MFB_APT_LOCK_WAIT: String(waitSeconds) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => done({ status, stderr }));
  });
}

describe.skipIf(!usable)('scripts/setup: package manager lock', () => {
  it('waits for a busy package manager, says so, and goes on when it is free', async () => {
    await holdLock(4);
    const r = await aptGet(120, 'check', '-qq');
    expect(r.stderr).toMatch(/package manager is busy .*waiting up to 120s/);
    expect(r.status).toBe(0);
  });

  it('gives up after the bound with a message naming what to do', async () => {
    await holdLock(60);
    const r = await aptGet(3, 'check', '-qq');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/still busy after 3s .*run scripts\/setup again/);
    expect(r.stderr).toMatch(/Could not get lock|Unable to acquire the dpkg frontend lock/); // apt's own words follow
  });
});
