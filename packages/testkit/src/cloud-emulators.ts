/**
 * Cloud storage emulators for the storage driver tests: Azurite (Azure Blob) and the Cloud
 * Storage emulator of firebase-tools (GCS JSON API, started without its Java rules runtime by
 * `gcs-emulator.server.mjs`). Each runs as a child process on a free port with its own temp
 * dir, and is stopped by `stop()`.
 *
 * Both packages are dependencies of @mfb/testkit, so `pnpm install` provides them; when one is
 * missing the start function returns `null` and prints a LOUD warning, and the caller skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './redis-server.js';

const require = createRequire(import.meta.url);

export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  endpoint: string;
  port: number;
  /** Milliseconds from spawn to accepting connections. */
  startMs: number;
  stop(): Promise<void>;
}

export interface Azurite extends RunningEmulator {
  account: string;
  accountKey: string;
  /** Blob service URL of the account: `${endpoint}/${account}`. */
  blobEndpoint: string;
  connectionString: string;
}

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

function resolvePackageDir(name: string): string | null {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

function loudSkip(pkg: string, what: string): null {
  const line = '!'.repeat(100);
  process.stderr.write(
    `\n${line}\n!!! SKIPPING ${what}: npm package "${pkg}" is not installed (run scripts/setup / pnpm install).\n${line}\n\n`,
  );
  return null;
}

async function waitForPort(port: number, proc: ChildProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms`);
}

function stopper(proc: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
}

/** Start `azurite-blob --inMemoryPersistence --skipApiVersionCheck --disableTelemetry` on a free port. */
export async function startAzurite(): Promise<Azurite | null> {
  const pkg = resolvePackageDir('azurite');
  if (!pkg) return loudSkip('azurite', 'Azure Blob driver tests against Azurite');
  // In-memory: nothing is written, but run it in a private dir (its cwd) all the same.
  const dir = await mkdtemp(join(tmpdir(), 'mfb-azurite-'));
  const port = await freePort();
  const t0 = Date.now();
  const proc = spawn(
    process.execPath,
    [join(pkg, 'dist/src/blob/main.js'), '--blobHost', '127.0.0.1', '--blobPort', String(port), '--inMemoryPersistence',
      '--skipApiVersionCheck', '--disableTelemetry', '--silent'],
    { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir },
  );
  try {
    await waitForPort(port, proc, 'azurite');
  } catch (err) {
    await stopper(proc, dir)();
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const blobEndpoint = `${endpoint}/${AZURITE_ACCOUNT}`;
  return {
    endpoint,
    port,
    startMs: Date.now() - t0,
    account: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    stop: stopper(proc, dir),
  };
}

export interface GcsEmulator extends RunningEmulator {
  /** Buckets that exist (requests for others get GCS's 404), when given to the start function. */
  buckets?: string[];
}

/**
 * Start the firebase-tools Cloud Storage emulator (JSON API) on a free port, offline.
 * `buckets`: the only buckets that exist (otherwise any bucket is created on first use).
 * `token`: the only accepted bearer token (otherwise callers are not authenticated).
 */
export async function startGcsEmulator(opts: { buckets?: string[]; token?: string } = {}): Promise<GcsEmulator | null> {
  if (!resolvePackageDir('firebase-tools')) return loudSkip('firebase-tools', 'GCS driver tests against the Cloud Storage emulator');
  const dir = await mkdtemp(join(tmpdir(), 'mfb-gcs-'));
  const port = await freePort();
  const script = join(dirname(fileURLToPath(import.meta.url)), 'gcs-emulator.server.mjs');
  const args = [script, '--port', String(port), '--dir', dir];
  if (opts.buckets) args.push('--buckets', opts.buckets.join(','));
  if (opts.token) args.push('--token', opts.token);
  const t0 = Date.now();
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: dir,
  });
  try {
    await waitForPort(port, proc, 'gcs emulator');
  } catch (err) {
    await stopper(proc, dir)();
    throw err;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    startMs: Date.now() - t0,
    ...(opts.buckets ? { buckets: opts.buckets } : {}),
    stop: stopper(proc, dir),
  };
}
