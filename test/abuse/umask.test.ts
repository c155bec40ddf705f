/**
 * Abuse: what the tool writes is private whatever the umask (ARCHITECTURE.md "Files 0600,
 * directories 0700"). The CLI runs as a real process under `umask 000` (everything would be
 * world-writable if the code relied on the umask) and `umask 077`: init, backup, verify,
 * restore; then every file and directory it created is checked.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { runProcess, distNode } from '@mfb/testkit';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'apps/cli/src/main.ts');

function cliUnderUmask(umask: string, args: string[], cwd: string) {
  const cmd = distNode(MAIN, args);
  // The umask is set in the child's own shell, then exec'd into node: the process really runs with it.
  return runProcess('sh', ['-c', `umask ${umask} && exec "$@"`, 'sh', cmd.command, ...cmd.args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: cwd, TMPDIR: join(cwd, 'os-tmp') },
  });
}

function walk(dir: string, skip: (p: string) => boolean): Array<{ path: string; dir: boolean; mode: number }> {
  const out: Array<{ path: string; dir: boolean; mode: number }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (skip(p)) continue;
    out.push({ path: p, dir: e.isDirectory(), mode: statSync(p).mode & 0o777 });
    if (e.isDirectory()) out.push(...walk(p, skip));
  }
  return out;
}

let fixtures = '';
let sourceDb = '';
beforeAll(async () => {
  fixtures = mkdtempSync(join(tmpdir(), 'mfb-umask-fixtures-'));
  sourceDb = join(fixtures, 'finance.db');
  await generateFinanceDb(sourceDb, { sizeBytes: 256 * 1024, seed: 3 });
});
afterAll(() => {
  if (fixtures) rmSync(fixtures, { recursive: true, force: true });
});

describe('abuse: 0600 files and 0700 directories whatever the umask', () => {
  for (const umask of ['000', '077']) {
    it.concurrent(`umask ${umask}: init, backup, restore create only private files`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `mfb-umask-${umask}-`));
      try {
        mkdirSync(join(dir, 'os-tmp'), { mode: 0o700 });
        mkdirSync(join(dir, 'live'));
        const db = join(dir, 'live', 'finance.db');
        copyFileSync(sourceDb, db);
        const init = await cliUnderUmask(umask, ['init', '--json', '--database', `fin=${db}`], dir);
        expect(init.code, init.stderr).toBe(0);
        const b = await cliUnderUmask(umask, ['backup', 'fin', '--json'], dir);
        expect(b.code, b.stderr).toBe(0);
        const { backupId } = JSON.parse(b.stdout) as { backupId: string };
        // restore checks the artifact (checksums, authentication, integrity_check) before placing it.
        const r = await cliUnderUmask(umask, ['restore', backupId, '--to', join(dir, 'restored', 'finance.db')], dir);
        expect(r.code, r.stderr).toBe(0);

        // Everything but the source database (the dashboard's, not ours) and the OS temp dir.
        const created = walk(dir, (p) => p.startsWith(join(dir, 'live')) || p.startsWith(join(dir, 'os-tmp')));
        expect(created.filter((e) => !e.dir).length).toBeGreaterThanOrEqual(5);
        const bad = created.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${relative(dir, e.path)}${e.dir ? '/' : ''} ${e.mode.toString(8)}`);
        expect(bad).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
