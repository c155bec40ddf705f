/**
 * Size and time of block-parallel gzip on a real snapshot: libdeflate (@mfb/deflate) vs
 * node:zlib at several block sizes, with `gzip -N` (whole file, one core) and `pigz -N`
 * (both cores) measured in the same run as references.
 *
 *   node_modules/.bin/tsx packages/deflate/bench/blocks.ts FILE [level=6] [blocksMiB=1,2,4,8] [window=4] [repeats=2]
 *
 * The file is read into memory first: only compression is timed. Times are the best of
 * `repeats` runs (shared machine). Not part of the test suite.
 */
import { execSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { gzipCompress } from '../src/index.js';

const gzipAsync = promisify(gzip);
const [file, levelArg, blocksArg, windowArg, repeatsArg] = process.argv.slice(2);
if (!file) throw new Error('usage: blocks.ts FILE [level] [blocksMiB,..] [window] [repeats]');
const level = Number(levelArg ?? 6);
const blockSizes = (blocksArg ?? '1,2,4,8').split(',').map((s) => Number(s) * 1024 * 1024);
const window = Number(windowArg ?? 4);
const repeats = Number(repeatsArg ?? 2);

/** Wall time and CPU time of the command's process tree (`/usr/bin/time` on the whole pipeline). */
function shell(cmd: string): { seconds: number; cpuSeconds: number; out: string } {
  const t = performance.now();
  const out = execSync(`/usr/bin/time -f '%U %S' -o /tmp/mfb-deflate-bench.time sh -c '${cmd}'`, { shell: '/bin/sh', encoding: 'utf8' });
  const [u, s] = readFileSync('/tmp/mfb-deflate-bench.time', 'utf8').trim().split(/\s+/).slice(-2).map(Number);
  return { seconds: (performance.now() - t) / 1000, cpuSeconds: u! + s!, out: out.trim() };
}

type Compress = (b: Buffer) => Promise<Buffer>;

/** Ordered parallel compression with at most `window` blocks in flight, as the engine does. */
async function run(data: Buffer, blockSize: number, compress: Compress): Promise<{ seconds: number; cpuSeconds: number; bytes: number }> {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const inFlight: Promise<Buffer>[] = [];
  let bytes = 0;
  for (let off = 0; off < data.length; off += blockSize) {
    inFlight.push(compress(data.subarray(off, Math.min(off + blockSize, data.length))));
    if (inFlight.length >= window) bytes += (await inFlight.shift()!).length;
  }
  while (inFlight.length) bytes += (await inFlight.shift()!).length;
  const used = process.cpuUsage(cpu);
  // CPU time (all threads of this process, threadpool included) is robust to a loaded machine.
  return { seconds: (performance.now() - t) / 1000, cpuSeconds: (used.user + used.system) / 1e6, bytes };
}

function best<T extends { seconds: number }>(xs: T[]): T {
  return xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

const size = statSync(file).size;
const refs: Record<string, { seconds: number; cpuSeconds: number; bytes: number }> = {};
for (const [name, cmd] of [
  ['gzip', `gzip -${level} -c ${file} | wc -c`],
  ['pigz', `pigz -${level} -p 2 -c ${file} | wc -c`],
] as const) {
  const runs = Array.from({ length: repeats }, () => {
    const r = shell(cmd);
    return { seconds: r.seconds, cpuSeconds: r.cpuSeconds, bytes: Number(r.out) };
  });
  refs[name] = best(runs);
}
const data = readFileSync(file);
const gz = refs.gzip!;
const pigz = refs.pigz!;
const rows: Record<string, unknown>[] = [];
const codecs: [string, Compress][] = [
  ['libdeflate', (b) => gzipCompress(b, level)],
  ['node-zlib', (b) => gzipAsync(b, { level, chunkSize: b.length + 64 * 1024 })],
];
for (const blockSize of blockSizes) {
  for (const [name, compress] of codecs) {
    const runs = [];
    for (let i = 0; i < repeats; i++) runs.push(await run(data, blockSize, compress));
    const r = best(runs);
    rows.push({
      codec: name,
      blockMiB: blockSize / 1048576,
      MB: +(r.bytes / 1e6).toFixed(2),
      vsGzip: +(r.bytes / gz.bytes).toFixed(4),
      seconds: +r.seconds.toFixed(2),
      vsPigzTime: +(r.seconds / pigz.seconds).toFixed(2),
      cpuSeconds: +r.cpuSeconds.toFixed(2),
      vsGzipCpu: +(r.cpuSeconds / gz.cpuSeconds).toFixed(2),
    });
    console.error(JSON.stringify(rows.at(-1)));
  }
}
console.log(
  JSON.stringify(
    {
      file,
      inputMB: +(size / 1e6).toFixed(2),
      level,
      window,
      gzip: { MB: +(gz.bytes / 1e6).toFixed(2), seconds: +gz.seconds.toFixed(2), cpuSeconds: +gz.cpuSeconds.toFixed(2) },
      pigz: { MB: +(pigz.bytes / 1e6).toFixed(2), seconds: +pigz.seconds.toFixed(2), cpuSeconds: +pigz.cpuSeconds.toFixed(2) },
      rows,
    },
    null,
    1,
  ),
);
