import { setTimeout as sleep } from 'node:timers/promises';
import { runProcess } from './process.js';

/** The machine's PostgreSQL (trust auth, database `test`), as the tests reach it. */
export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

async function ready(): Promise<boolean> {
  const r = await runProcess('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-t', '2'], { cwd: '/', env: { PATH: '/usr/local/bin:/usr/bin:/bin' } }).catch(() => null);
  return r?.code === 0;
}

/**
 * The URL of a running PostgreSQL: the machine's, started when it is down (as the tests start
 * Redis), the way it was started before the session (`pg_ctlcluster <version> main start`).
 */
export async function ensurePostgres(): Promise<string> {
  if (await ready()) return POSTGRES_URL;
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };
  const versions = await runProcess('ls', ['/etc/postgresql'], { cwd: '/', env });
  const version = versions.stdout.split(/\s+/).filter(Boolean).sort().pop();
  if (!version) throw new Error('PostgreSQL is not installed (no /etc/postgresql/<version>); scripts/setup installs it');
  const started = await runProcess('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { cwd: '/', env });
  for (let i = 0; i < 60; i++) {
    if (await ready()) return POSTGRES_URL;
    await sleep(500);
  }
  throw new Error(`PostgreSQL did not start: ${started.stdout}${started.stderr}`);
}
