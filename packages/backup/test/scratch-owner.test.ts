/**
 * Who may remove a scratch file: the owner recorded in its name decides. Real processes stand
 * in for owners (a live `sleep`, an exited `true`), so liveness is judged as in production.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanupTempFiles, reclaimStaleScratch, UNKNOWN_OWNER_STALE_MS } from '../src/index.js';
import { currentOwner, formatOwner, type ScratchOwner } from '../src/owner.js';

const linux = existsSync('/proc/self/stat');
let dir: string;
let sleeper: ChildProcess | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scratch-owner-'));
});
afterEach(() => {
  sleeper?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const me = currentOwner();
let n = 0;
function file(owner: ScratchOwner | null, db = 'fin'): string {
  const name = `.mfb-tmp-${db}.20261201T000000000Z-${String(++n).padStart(8, '0')}.${owner ? `${formatOwner(owner)}.` : ''}snapshot.sqlite`;
  writeFileSync(join(dir, name), 'x'.repeat(100));
  return name;
}
const present = (name: string): boolean => existsSync(join(dir, name));
const startOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};

describe('scratch owners', () => {
  it('reclaims a dead owner (no lock needed), keeps a live one and this process', async () => {
    const exited = spawnSync('true').pid!;
    sleeper = spawn('sleep', ['60']);
    const live = sleeper.pid!;
    const dead = file({ ...me, pid: exited, start: '12345' });
    const alive = file({ ...me, pid: live, start: linux ? startOf(live) : '0' });
    const self = file(me);
    const r = await reclaimStaleScratch(dir);
    expect(r).toEqual({ files: 1, bytes: 100, failed: [] });
    expect(present(dead)).toBe(false);
    expect(present(alive)).toBe(true);
    expect(present(self)).toBe(true);
  });

  it.skipIf(!linux)('a reused PID is not the owner: the start time differs', async () => {
    sleeper = spawn('sleep', ['60']);
    const reused = file({ ...me, pid: sleeper.pid!, start: String(Number(startOf(sleeper.pid!)) - 1) });
    const rebooted = file({ ...me, boot: me.boot === 'ffffffff' ? 'eeeeeeee' : 'ffffffff', pid: sleeper.pid!, start: startOf(sleeper.pid!) });
    await reclaimStaleScratch(dir);
    expect(present(reused)).toBe(false);
    expect(present(rebooted)).toBe(false);
  });

  it('another host or PID namespace is kept until it has been untouched for a day', async () => {
    const other = { ...me, host: me.host === '00000000' ? '11111111' : '00000000', pid: 1 };
    const fresh = file(other);
    const old = file(other);
    const t = (Date.now() - UNKNOWN_OWNER_STALE_MS - 60_000) / 1000;
    utimesSync(join(dir, old), t, t);
    await reclaimStaleScratch(dir);
    expect(present(fresh)).toBe(true);
    expect(present(old)).toBe(false);
  });

  it('under the lock (cleanupTempFiles), this process, unowned and unknown owners go, a live other process stays', async () => {
    sleeper = spawn('sleep', ['60']);
    const live = file({ ...me, pid: sleeper.pid!, start: linux ? startOf(sleeper.pid!) : '0' });
    const self = file(me);
    const legacy = file(null);
    const unknown = file({ ...me, host: me.host === '00000000' ? '11111111' : '00000000' });
    const otherDb = file(me, 'other');
    expect(await reclaimStaleScratch(dir)).toMatchObject({ files: 0 });
    expect(present(legacy)).toBe(true);
    expect(await cleanupTempFiles({ tmpDir: dir, databaseId: 'fin' })).toBe(3);
    expect(present(live)).toBe(true);
    expect(present(self)).toBe(false);
    expect(present(legacy)).toBe(false);
    expect(present(unknown)).toBe(false);
    expect(present(otherDb)).toBe(true);
  });
});
