/**
 * Secrets check, per test worker (vitest `setupFiles`): everything the suites' processes print
 * is collected into one directory, with the secrets their configs hold, and
 * `secrets-global.ts` greps the whole collection at the end of the run (ARCHITECTURE.md
 * invariant 8: secrets never in logs or errors).
 *
 * - Child processes started with `child_process.spawn` (the workers, APIs and CLIs the suites
 *   run; `runProcess`, `distNode` and `tsNode` callers): their stdout and stderr are copied as they are
 *   read (the stream's `push` is wrapped, so nothing changes for the test that reads them), and
 *   the config they start with (`--config <file>`, else `<cwd>/mfb.config.yaml`) is loaded to
 *   learn its secrets: encryption keys (base64 and hex), API keys, the admin password,
 *   passwords in URLs, and the secret keys of credentials files.
 * - The test worker's own stdout and stderr (console output, in-process loggers).
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { loadConfig, type Config } from '@mfb/config';

let DIR = process.env.MFB_TEST_SECRETS_DIR;

/** Collect into `dir` while `fn` runs (the collector's own test, which leaks a secret on purpose). */
export async function collectingInto<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = DIR;
  DIR = dir;
  try {
    return await fn();
  } finally {
    DIR = before;
  }
}

/** Log files in `dir` that contain one of the secrets collected there (plus `extra`). */
export function scanForSecrets(dir: string, extra: Iterable<string> = []): { secrets: number; logs: number; bytes: number; hits: string[] } {
  const files = readdirSync(dir);
  const secrets = new Set<string>(extra);
  for (const f of files.filter((x) => x.startsWith('secrets-'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line) secrets.add(JSON.parse(line) as string);
  }
  const logs = files.filter((x) => !x.startsWith('secrets-'));
  let bytes = 0;
  const hits: string[] = [];
  for (const f of logs) {
    const text = readFileSync(join(dir, f), 'utf8');
    bytes += text.length;
    let n = 0;
    for (const s of secrets) if (text.includes(s)) n++;
    if (n) hits.push(`${f}: ${n} secret(s)`);
  }
  return { secrets: secrets.size, logs: logs.length, bytes, hits };
}
const require = createRequire(import.meta.url);

/** Secrets one config holds (each at least 8 characters: shorter ones would match by chance). */
export function secretsOfConfig(c: Config): string[] {
  const out: string[] = [];
  for (const k of c.keys.values()) out.push(k.toString('base64'), k.toString('hex'), k.toString('base64url'));
  for (const k of c.api.keys) out.push(k.key);
  if (c.api.adminPassword) out.push(c.api.adminPassword);
  const urls = [c.redis.url, c.storageUrl, ...c.targets.map((t) => t.url)];
  for (const u of urls) {
    try {
      const p = new URL(u).password;
      if (p) out.push(decodeURIComponent(p));
    } catch {
      // not a URL
    }
  }
  for (const t of c.targets) {
    const file = (t.options as Record<string, unknown> | undefined)?.['credentialsFile'];
    if (typeof file === 'string' && existsSync(file)) out.push(...secretsOfCredentialsFile(readFileSync(file, 'utf8')));
  }
  return out.filter((s) => s.length >= 8);
}

/** Secret values of an AWS-style credentials file or a JSON key file. */
export function secretsOfCredentialsFile(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:aws_secret_access_key|aws_session_token|accountKey|account_key|private_key)\s*[=:]\s*"?([^"\n]+)"?/gim)) out.push(m[1]!.trim());
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    for (const k of ['private_key', 'accountKey', 'secretAccessKey']) if (typeof j[k] === 'string') out.push(j[k]);
  } catch {
    // not JSON
  }
  return out;
}

function configOf(args: readonly string[], cwd: string): string | undefined {
  const i = args.indexOf('--config');
  if (i >= 0 && args[i + 1]) return resolve(cwd, args[i + 1]!);
  const eq = args.find((a) => a.startsWith('--config='));
  if (eq) return resolve(cwd, eq.slice('--config='.length));
  const def = join(cwd, 'mfb.config.yaml');
  return existsSync(def) ? def : undefined;
}

function recordSecrets(args: readonly string[], cwd: string): void {
  const file = configOf(args, cwd);
  if (!file) return;
  try {
    const c = loadConfig({ file, env: {}, cwd: dirname(file) });
    const s = secretsOfConfig(c);
    if (s.length) appendFileSync(join(DIR!, `secrets-${process.pid}.txt`), s.map((x) => JSON.stringify(x)).join('\n') + '\n', { mode: 0o600 });
  } catch {
    // An invalid config on purpose (its process fails at start): nothing to learn.
  }
}

let seq = 0;
function tee(stream: Readable | null | undefined, file: string): void {
  if (!stream) return;
  const push = stream.push.bind(stream);
  stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk !== null && chunk !== undefined) {
      try {
        appendFileSync(file, chunk as Buffer);
      } catch {
        // collection is best effort; the run goes on
      }
    }
    return push(chunk, encoding);
  };
}

if (process.env.MFB_TEST_SECRETS_DIR && !(globalThis as { __mfbSecretsCollector?: boolean }).__mfbSecretsCollector) {
  (globalThis as { __mfbSecretsCollector?: boolean }).__mfbSecretsCollector = true;
  const cp = require('node:child_process') as typeof import('node:child_process');
  const original = cp.spawn;
  const wrapped = function (this: unknown, command: string, argsOrOpts?: unknown, maybeOpts?: unknown): ChildProcess {
    const child = (original as (...a: unknown[]) => ChildProcess).apply(this, [command, argsOrOpts, maybeOpts].filter((a) => a !== undefined));
    try {
      const args = Array.isArray(argsOrOpts) ? (argsOrOpts as string[]).map(String) : [];
      const opts = ((Array.isArray(argsOrOpts) ? maybeOpts : argsOrOpts) ?? {}) as { cwd?: string | URL };
      const cwd = opts.cwd ? String(opts.cwd) : process.cwd();
      if (!DIR) return child;
      const log = join(DIR, `child-${process.pid}-${++seq}.log`);
      appendFileSync(log, `# ${command} ${args.join(' ')}\n`);
      tee(child.stdout, log);
      tee(child.stderr, log);
      recordSecrets(args, cwd);
    } catch {
      // never break the test's spawn
    }
    return child;
  };
  cp.spawn = wrapped as typeof cp.spawn;
  syncBuiltinESMExports();

  for (const s of [process.stdout, process.stderr]) {
    const write = s.write.bind(s) as (...a: unknown[]) => boolean;
    s.write = ((chunk: unknown, ...rest: unknown[]) => {
      try {
        appendFileSync(join(DIR!, `worker-${process.pid}.log`), typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array));
      } catch {
        // best effort
      }
      return write(chunk, ...rest);
    }) as typeof s.write;
  }
}
