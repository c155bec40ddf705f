/**
 * End to end, 1 GiB finance database: our backup (zstd-3 + AES-256-GCM) + upload to a local Ceph
 * radosgw vs `restic backup` of the same database to the same radosgw (restic's s3 backend,
 * fresh repository, compression auto), alternating, each in its own process under
 * /usr/bin/time -v, in the same run.
 *
 *   tsx --conditions=@mfb/source bench/cloud/e2e.ts [sizeMiB=1024] [rounds=2]
 *
 * restic reads the live file (no consistent snapshot: it is the reference for time and size,
 * not for correctness). Writes bench/cloud/e2e-results.json; RESULTS-e2e.md is written from it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startRadosgw } from '@mfb/testkit';
import { financeDb } from '../lib/finance-db.js';
import { median, MiB, timed } from '../lib/proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../..');
const sizeMiB = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 2);
const log = (m: string): void => console.error(`[e2e] ${m}`);

const { path: db } = await financeDb(sizeMiB, { log });
const work = join('/work/bench-data', `e2e-${process.pid}`);
mkdirSync(work, { recursive: true });
const keyFile = join(work, 'key');
writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });

const srv = await startRadosgw('bench-e2e', { memstoreBytes: (sizeMiB * 2 * rounds * 2 + 1024) * MiB });
log(`radosgw started in ${srv.startupMs} ms at ${srv.endpoint}`);
const s3 = srv.client();
async function bytesUnder(prefix: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: srv.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) total += o.Size ?? 0;
    token = r.NextContinuationToken;
  } while (token);
  return total;
}

const tsx = join(repo, 'node_modules/.bin/tsx');
type Row = { who: 'ours' | 'restic'; round: number; wallS: number; cpuS: number; rssMiB: number; storedBytes: number; load: number; detail?: unknown };
const rows: Row[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const order: Array<'ours' | 'restic'> = round % 2 ? ['ours', 'restic'] : ['restic', 'ours'];
    for (const who of order) {
      const dir = join(work, `${who}-${round}`);
      mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
      let row: Row;
      if (who === 'ours') {
        const t = await timed(tsx, ['--conditions=@mfb/source', join(here, 'e2e-ours.ts'), db, dir, srv.endpoint, srv.credentialsFile, srv.bucket, keyFile], { cwd: repo });
        const detail = JSON.parse(t.stdout.trim().split('\n').pop()!) as { artifactBytes: number };
        row = { who, round, wallS: t.wallS, cpuS: t.userS + t.sysS, rssMiB: t.maxRssBytes / MiB, storedBytes: detail.artifactBytes, load: loadavg()[0]!, detail };
        // The next round of ours uploads the same key again (another backup id, in fact): keep the bucket small.
      } else {
        const prefix = `restic-${round}`;
        const env = {
          ...process.env,
          AWS_ACCESS_KEY_ID: srv.accessKeyId,
          AWS_SECRET_ACCESS_KEY: srv.secretAccessKey,
          RESTIC_REPOSITORY: `s3:${srv.endpoint}/${srv.bucket}/${prefix}`,
          RESTIC_PASSWORD: 'bench',
        };
        execFileSync('restic', ['init', '--repository-version', '2', '--quiet'], { env, stdio: 'ignore' });
        const before = await bytesUnder(prefix + '/');
        const t = await timed('restic', ['backup', '--quiet', '--compression', 'auto', db], { env });
        const added = (await bytesUnder(prefix + '/')) - before;
        row = { who, round, wallS: t.wallS, cpuS: t.userS + t.sysS, rssMiB: t.maxRssBytes / MiB, storedBytes: added, load: loadavg()[0]! };
      }
      rows.push(row);
      log(JSON.stringify(row));
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  await srv.stop();
  rmSync(work, { recursive: true, force: true });
}

const of = (who: Row['who']) => rows.filter((r) => r.who === who);
const summary = {
  date: new Date().toISOString(),
  sizeMiB,
  rounds,
  restic: execFileSync('restic', ['version']).toString().trim(),
  oursWallS: median(of('ours').map((r) => r.wallS)),
  resticWallS: median(of('restic').map((r) => r.wallS)),
  oursBytes: median(of('ours').map((r) => r.storedBytes)),
  resticBytes: median(of('restic').map((r) => r.storedBytes)),
  oursRssMiB: Math.max(...of('ours').map((r) => r.rssMiB)),
  resticRssMiB: Math.max(...of('restic').map((r) => r.rssMiB)),
  rows,
};
const timeRatio = summary.oursWallS / summary.resticWallS;
const sizeRatio = summary.oursBytes / summary.resticBytes;
writeFileSync(join(here, 'e2e-results.json'), JSON.stringify({ ...summary, timeRatio, sizeRatio }, null, 2) + '\n');
console.log(`ours ${summary.oursWallS.toFixed(2)} s vs restic ${summary.resticWallS.toFixed(2)} s: ${timeRatio.toFixed(2)} (target <= 0.8)`);
console.log(`stored: ours ${(summary.oursBytes / MiB).toFixed(1)} MiB vs restic +${(summary.resticBytes / MiB).toFixed(1)} MiB: ${sizeRatio.toFixed(2)} (target < 1)`);
