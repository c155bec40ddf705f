/**
 * Vitest global setup of the secrets check (see secrets-collector.ts): makes the collection
 * directory, and at the end of the run greps every collected log for every collected secret
 * (and the API suite's fixed keys). Any hit fails the run, naming the log file and the kind of
 * secret, never the secret itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, KEYS } from '../../apps/api/test/helpers.js';
import { scanForSecrets } from './secrets-collector.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'mfb-secrets-check-'));
  process.env.MFB_TEST_SECRETS_DIR = dir;
  return () => {
    const r = scanForSecrets(dir, [...Object.values(KEYS), ADMIN_PASSWORD]);
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
