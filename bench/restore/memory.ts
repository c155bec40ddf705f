/**
 * Diagnostic: where a restore's memory goes. Runs one restore in this process and samples
 * `process.memoryUsage()` every 50 ms, printing the peak of each field per progress stage.
 *
 *   node --conditions=@mfb/source --import ./node_modules/tsx/dist/loader.mjs bench/restore/memory.ts STORE KEY KEYFILE TMPDIR
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { restoreBackup } from '@mfb/backup';
import { openStorage } from '@mfb/storage';

const [store, artifactKey, keyFile, tmp] = process.argv.slice(2) as [string, string, string, string];
const keys = new Map([['bench', Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64')]]);
let stage = 'start';
const peaks = new Map<string, NodeJS.MemoryUsage>();
const sample = (): void => {
  const m = process.memoryUsage();
  const p = peaks.get(stage);
  if (!p) peaks.set(stage, m);
  else for (const k of Object.keys(m) as (keyof NodeJS.MemoryUsage)[]) p[k] = Math.max(p[k], m[k]);
};
const timer = setInterval(sample, 50);
const target = join(tmp, 'restored.db');
const t0 = Date.now();
await restoreBackup({
  storage: openStorage(store),
  artifactKey,
  keys,
  tmpDir: tmp,
  targetPath: target,
  mode: 'new',
  onProgress: (p) => {
    const s = p.stage === 'verify' && p.bytesDone === p.bytesTotal ? 'checked' : p.stage;
    if (s !== stage) {
      sample();
      stage = s;
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${s}\n`);
    }
  },
});
clearInterval(timer);
rmSync(target, { force: true });
const mib = (n: number): string => (n / 2 ** 20).toFixed(0);
for (const [s, m] of peaks) console.log(`${s}: rss ${mib(m.rss)} heapUsed ${mib(m.heapUsed)} heapTotal ${mib(m.heapTotal)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)} MiB`);
