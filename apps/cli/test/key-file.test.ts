/**
 * `--key-file` reads key files with the config's reader (`readKeyFile` of @mfb/config, issue 11
 * item 9): the same mode rule and the same format as `keys[].file`. Before, the CLI had its own
 * parser that took files the config refuses (32 raw bytes) and refused none the config took.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@mfb/config';
import { distNode } from '@mfb/testkit';
import { readKeyFileOrThrow } from '../src/artifacts.js';

const main = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'src/main.ts');

let dir: string;
const key = Buffer.from('6b3f0c1e9a8d7f2e4c5b6a79880716253443526170819fa0b1c2d3e4f5061728', 'hex');
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-key-file-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const { command, args: argv } = distNode(main, args);
  const r = spawnSync(command, argv, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Does the config accept this file as `keys[].file`? */
function configAccepts(file: string): boolean {
  const yaml = join(dir, 'k.yaml');
  writeFileSync(yaml, `keys:\n  - id: main\n    file: ${JSON.stringify(file)}\n`);
  try {
    loadConfig({ file: yaml, env: {}, cwd: dir });
    return true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return false;
  }
}

/** What the CLI's --key-file reader makes of the file: the key, or the CLI error code. */
function cliReads(file: string): Buffer | string {
  try {
    return readKeyFileOrThrow(file);
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('--key-file and keys[].file accept the same key files', () => {
  const cases: Array<[string, () => Buffer | string, number, boolean]> = [
    ['base64 (as init writes it)', () => key.toString('base64') + '\n', 0o600, true],
    ['hex', () => key.toString('hex'), 0o600, true],
    ['32 raw bytes', () => key, 0o600, false],
    ['base64 url-safe', () => key.toString('base64url'), 0o600, false],
    ['base64 readable by others', () => key.toString('base64'), 0o644, false],
    ['base64 of 16 bytes', () => key.subarray(0, 16).toString('base64'), 0o600, false],
  ];
  it.each(cases)('%s', (name, content, mode, accepted) => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.key`);
    writeFileSync(file, content(), { mode });
    chmodSync(file, mode);
    expect(configAccepts(file), 'config').toBe(accepted);
    expect(cliReads(file)).toEqual(accepted ? key : 'CLI_KEY_FILE_INVALID');
    expect(cliReads(join(dir, 'none.key'))).toBe('CLI_ARTIFACT_NOT_FOUND');
  });

  it('backupctl verify --key-file refuses a key file the config refuses (32 raw bytes), before touching the artifact', () => {
    const raw = join(dir, 'raw.key');
    writeFileSync(raw, key, { mode: 0o600 });
    const loose = join(dir, 'files', 'fin');
    mkdirSync(loose, { recursive: true });
    writeFileSync(join(loose, 'x.sqlite.gz.enc'), 'not an artifact');
    writeFileSync(join(loose, 'x.sqlite.gz.enc.manifest.json'), JSON.stringify({ artifactKey: 'fin/x.sqlite.gz.enc' }));
    const r = cli('verify', join(loose, 'x.sqlite.gz.enc'), '--key-file', `main=${raw}`, '--json');
    expect(r.code, r.stderr + r.stdout).toBe(3);
    expect((JSON.parse(r.stdout) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'CLI_KEY_FILE_INVALID',
      message: expect.stringContaining('does not hold a 32-byte key (base64 or 64 hex digits)'),
    });
  });
});
