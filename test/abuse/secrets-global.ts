/**
 * Vitest global setup of the secrets check (see secrets-collector.ts): makes the collection
 * directory, and at the end of the run greps every collected log for every collected secret
 * (and the API suite's fixed keys). Any hit fails the run, naming the log file and the kind of
 * secret, never the secret itself.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { scanForSecrets } from './secrets-collector.js';

/**
 * The API suite's fixed secrets (its in-process app is configured with them): the string
 * values of `KEYS` and `ADMIN_PASSWORD` in apps/api/test/helpers.ts, read from the source (test
 * helpers are not importable across workspaces).
 */
function apiSuiteSecrets(): string[] {
  const src = readFileSync(resolve(import.meta.dirname, '../../apps/api/test/helpers.ts'), 'utf8');
  const keys = /export const KEYS = \{([^}]*)\}/.exec(src)?.[1] ?? '';
  const out = [...keys.matchAll(/:\s*'([^']{8,})'/g)].map((m) => m[1]!);
  const pw = /export const ADMIN_PASSWORD = '([^']+)'/.exec(src)?.[1];
  if (pw) out.push(pw);
  if (out.length < 4) throw new Error('secrets check: could not read the API suite secrets from apps/api/test/helpers.ts');
  return out;
}

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'mfb-secrets-check-'));
  process.env.MFB_TEST_SECRETS_DIR = dir;
  return () => {
    const r = scanForSecrets(dir, apiSuiteSecrets());
    const summary = `secrets check: ${r.secrets} configured secrets, ${r.logs} process logs (${Math.round(r.bytes / 1024)} KiB), ${r.hits.length} logs with a secret`;
    console.log(summary);
    if (r.hits.length) {
      // Keep the logs for the person who has to look. A throw here is only printed by vitest:
      // the exit code is what fails the run.
      console.error(`FAIL ${summary}:\n${r.hits.join('\n')}\n(logs kept in ${dir})`);
      process.exitCode = 1;
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
