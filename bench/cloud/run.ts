/**
 * Cloud transfer benchmark: a 1 GiB artifact uploaded and downloaded through our S3 driver vs
 * the plain AWS SDK call, against a local Ceph radosgw (memstore OSD) started here, in the
 * same run, alternating, each transfer in its own process under /usr/bin/time -v.
 *
 *   tsx bench/cloud/run.ts [sizeMiB=1024] [rounds=3]
 *
 * Writes bench/cloud/results.json; RESULTS.md is written by hand from it.
 */
import { createWriteStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRadosgw } from '@mfb/testkit';
import { timed } from '../lib/proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../..');
const sizeMiB = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 3);
const dataDir = '/work/bench-data';
mkdirSync(dataDir, { recursive: true });
const file = join(dataDir, `artifact-${sizeMiB}m.bin`);

if (!existsSync(file) || statSync(file).size !== sizeMiB << 20) {
  // Random bytes: an encrypted artifact does not compress, so neither should this.
  const ws = createWriteStream(file);
  for (let i = 0; i < sizeMiB; i++) if (!ws.write(randomBytes(1 << 20))) await new Promise<void>((r) => ws.once('drain', () => r()));
  await new Promise<void>((r) => ws.end(r));
}

const srv = await startRadosgw('bench', { memstoreBytes: (sizeMiB * 4 + 512) * 2 ** 20 });
console.log(`radosgw started in ${srv.startupMs} ms`);
const tsx = join(repo, 'node_modules/.bin/tsx');
type Row = { who: string; op: string; round: number; seconds: number; wallS: number; cpuS: number; rssMiB: number; load: number };
const rows: Row[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? ['ours', 'sdk'] : ['sdk', 'ours'];
    for (const op of ['upload', 'download']) {
      for (const who of order) {
        const t = await timed(tsx, [join(here, 'one.ts'), who, op, srv.endpoint, srv.credentialsFile, srv.bucket, `a-${who}`, file], { cwd: repo });
        const { seconds } = JSON.parse(t.stdout.trim().split('\n').pop()!) as { seconds: number };
        const row = { who, op, round, seconds, wallS: t.wallS, cpuS: t.userS + t.sysS, rssMiB: t.maxRssBytes / 2 ** 20, load: loadavg()[0]! };
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
  }
} finally {
  await srv.stop();
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary: Record<string, unknown> = { sizeMiB, rounds, date: new Date().toISOString() };
for (const op of ['upload', 'download']) {
  const ours = median(rows.filter((r) => r.who === 'ours' && r.op === op).map((r) => r.seconds));
  const sdk = median(rows.filter((r) => r.who === 'sdk' && r.op === op).map((r) => r.seconds));
  const oursRss = Math.max(...rows.filter((r) => r.who === 'ours' && r.op === op).map((r) => r.rssMiB));
  const sdkRss = Math.max(...rows.filter((r) => r.who === 'sdk' && r.op === op).map((r) => r.rssMiB));
  summary[op] = { oursS: ours, sdkS: sdk, ratio: ours / sdk, oursPeakRssMiB: oursRss, sdkPeakRssMiB: sdkRss };
}
console.log(JSON.stringify(summary, null, 2));
writeFileSync(join(here, 'results.json'), JSON.stringify({ summary, rows }, null, 2) + '\n');
