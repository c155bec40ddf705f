import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './redis-server.js';

/** A real S3 server a test started (and must stop), with one empty bucket and its keys. */
export interface S3TestServer {
  kind: 's3rver' | 'radosgw';
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** An AWS shared credentials file (`[default]`) holding the keys, mode 0600. */
  credentialsFile: string;
  /** Milliseconds from spawn to the first successful request. */
  startupMs: number;
  /** A raw SDK client (path style, MD5 only), for what the driver does not do (buckets, raw listing). */
  client(): S3Client;
  /** Create another empty bucket. */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Write `[default]` credentials into `dir`/credentials. */
export async function writeCredentialsFile(dir: string, accessKeyId: string, secretAccessKey: string): Promise<string> {
  const file = join(dir, 'credentials');
  await writeFile(file, `[default]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`, { mode: 0o600 });
  return file;
}

export function rawS3Client(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
}

/** The handle of a started server: its keys in a credentials file in `dir`, a raw client, stop. */
export async function s3TestServer(
  fields: Pick<S3TestServer, 'kind' | 'endpoint' | 'port' | 'bucket' | 'accessKeyId' | 'secretAccessKey' | 'startupMs'>,
  dir: string,
  raw: S3Client,
  stopServer: () => Promise<void>,
): Promise<S3TestServer> {
  const credentialsFile = await writeCredentialsFile(dir, fields.accessKeyId, fields.secretAccessKey);
  return {
    ...fields,
    credentialsFile,
    client: () => raw,
    async createBucket(name) {
      await raw.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      raw.destroy();
      await stopServer();
    },
  };
}

/** Poll `probe` until it resolves, the process dies, or `timeoutMs` passes. */
export async function waitUntil(what: string, proc: ChildProcess, timeoutMs: number, probe: () => Promise<unknown>, log?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}) before it was ready${log ? ':\n' + log() : ''}`);
    }
    try {
      await probe();
      return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms: ${(last as Error)?.message}${log ? '\n' + log() : ''}`);
    await sleep(100);
  }
}

export async function stopProcess(proc: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

/**
 * Start `s3rver` (npm; a Node S3 server storing objects in files) on a free port in a temp
 * dir, as its own process, with bucket `bucket`. Its keys are `S3RVER`/`S3RVER`; it checks
 * signatures (wrong keys fail) but not Content-MD5, so corruption is caught by the driver's
 * ETag check there.
 */
export async function startS3rver(bucket = 'mfb-test'): Promise<S3TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mfb-s3rver-'));
  const port = await freePort();
  const bin = join(dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const t0 = Date.now();
  // s3rver makes list continuation tokens with DES, which Node 20's OpenSSL 3 only has in its legacy provider.
  const proc = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', join(dir, 'data'), '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets', '--configure-bucket', bucket], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = 'S3RVER';
  const secretAccessKey = 'S3RVER';
  const raw = rawS3Client(endpoint, accessKeyId, secretAccessKey);
  try {
    await waitUntil('s3rver', proc, 30_000, () => fetch(endpoint + '/' + bucket).then((r) => r.status < 500 || Promise.reject(new Error(String(r.status)))), () => stderr);
  } catch (err) {
    await stopProcess(proc);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const fields = { kind: 's3rver' as const, endpoint, port, bucket, accessKeyId, secretAccessKey, startupMs: Date.now() - t0 };
  return s3TestServer(fields, dir, raw, async () => {
    await stopProcess(proc);
    await rm(dir, { recursive: true, force: true });
  });
}
