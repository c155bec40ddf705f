/**
 * The secrets check itself can fail: a child process that prints a configured API key and an
 * encryption key is caught (collected into a private directory, so the real run stays clean).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testConfig } from '@mfb/testkit';
import { collectingInto, scanForSecrets } from './secrets-collector.js';

function run(args: string[], cwd: string): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', rej);
    c.on('close', (code) => (code === 0 && out.length > 0 ? res() : rej(new Error(`exit ${code}: ${out}`))));
  });
}

describe.runIf(process.env.MFB_TEST_SECRETS_DIR)('secrets check (global collector)', () => {
  it('finds a configured API key and key bytes a child printed, and nothing in a clean child', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mfb-secrets-self-'));
    try {
      const key = randomBytes(32);
      await writeFile(join(dir, 'k.key'), key.toString('base64') + '\n', { mode: 0o600 });
      const apiKey = `leaky-${randomBytes(10).toString('hex')}`;
      const { file } = await testConfig({ dir, settings: { keys: [{ id: 'k', file: './k.key' }], api: { keys: [{ id: 'x', key: apiKey, scopes: ['read'] }] } } });
      const collect = join(dir, 'collected');
      await (await import('node:fs/promises')).mkdir(collect);
      await collectingInto(collect, async () => {
        await run(['-e', 'console.log("all good")', '--', '--config', file], dir);
        expect(scanForSecrets(collect).hits).toEqual([]);
        await run(['-e', `console.log(${JSON.stringify(apiKey)})`, '--', '--config', file], dir);
        await run(['-e', `console.error("key " + ${JSON.stringify(key.toString('hex'))})`, '--', '--config', file], dir);
      });
      const r = scanForSecrets(collect);
      expect(r.secrets).toBeGreaterThanOrEqual(4);
      expect(r.hits).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
