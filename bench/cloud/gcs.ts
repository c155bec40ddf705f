/**
 * An artifact through our gs:// driver vs the plain SDK calls, against the firebase-tools
 * Cloud Storage emulator (started by @mfb/testkit) in the same run:
 *   upload:   GcsStorageDriver.put  vs  File.createWriteStream({ resumable, chunkSize, validation: 'crc32c' })
 *   download: GcsStorageDriver.get  vs  File.createReadStream()
 * Same chunk size (16 MiB) on both sides. Each step runs in its own process under
 * /usr/bin/time -v (peak RSS); steps alternate; medians.
 *
 *   node_modules/.bin/tsx bench/cloud/gcs.ts [sizeMiB=1024] [reps=3]
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Storage } from '@google-cloud/storage';
import { openStorage } from '@mfb/storage';
import { startGcsEmulator } from '@mfb/testkit';
import { alternate, childMain, drain, makeArtifact, report } from './gcaz-lib.js';

const SCRIPT = 'bench/cloud/gcs.ts';
const BUCKET = 'bench';
const CHUNK = 16 * 1024 * 1024;

async function child(mode: string, endpoint: string, file: string): Promise<void> {
  const ours = openStorage(`gs://${BUCKET}/ours`, { options: { apiEndpoint: endpoint, chunkSize: CHUNK } });
  const bucket = new Storage({ apiEndpoint: endpoint, projectId: 'bench' }).bucket(BUCKET);
  // Untimed warm-up: loads the SDK (ours loads it lazily) and opens a connection.
  await ours.head('warmup');
  await bucket.file('warmup').exists();
  await childMain(async () => {
    switch (mode) {
      case 'idle':
        return 0;
      case 'ours-up':
        return (await ours.put('up.bin', createReadStream(file, { highWaterMark: 1024 * 1024 }))).size;
      case 'sdk-up': {
        const f = bucket.file('sdk/up.bin');
        await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), f.createWriteStream({ resumable: true, chunkSize: CHUNK, validation: 'crc32c' }));
        return Number(f.metadata.size);
      }
      case 'ours-down':
        return drain(await ours.get('down.bin'));
      case 'sdk-down':
        return drain(bucket.file('ours/down.bin').createReadStream());
      default:
        throw new Error(`unknown mode ${mode}`);
    }
  });
}

async function main(): Promise<void> {
  const sizeMiB = Number(process.argv[2] ?? 1024);
  const reps = Number(process.argv[3] ?? 3);
  const dir = await mkdtemp(path.join(tmpdir(), 'mfb-bench-gcs-'));
  const emu = await startGcsEmulator({ buckets: [BUCKET] });
  if (!emu) throw new Error('firebase-tools is not installed');
  try {
    process.stderr.write(`gcs emulator started in ${emu.startMs} ms; writing ${sizeMiB} MiB artifact\n`);
    const file = path.join(dir, 'artifact.bin');
    await makeArtifact(file, sizeMiB * 1024 * 1024);
    const seed = new Storage({ apiEndpoint: emu.endpoint, projectId: 'bench' }).bucket(BUCKET).file('ours/down.bin');
    await pipeline(createReadStream(file), seed.createWriteStream({ resumable: true, chunkSize: CHUNK }));
    const all = await alternate(SCRIPT, ['ours-up', 'sdk-up', 'ours-down', 'sdk-down', 'idle'], reps, [emu.endpoint, file]);
    const md = report(`GCS (firebase-tools 15.34.2 storage emulator), ${sizeMiB} MiB, ${reps} alternating runs`, all, [
      ['upload', 'ours-up', 'sdk-up'],
      ['download', 'ours-down', 'sdk-down'],
    ]);
    const idle = Math.max(...all.get('idle')!.map((r) => r.peakRssMiB));
    process.stdout.write(`${md}\n\nIdle child (tsx + SDK loaded, one request): peak RSS ${idle.toFixed(1)} MiB.\n`);
  } finally {
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
