/**
 * 1 GiB artifact through our azblob:// driver vs the plain SDK calls, against Azurite
 * (in-memory) in the same run:
 *   upload:   AzureBlobStorageDriver.put (MD5 per block, commit at end)  vs  BlockBlobClient.uploadStream
 *   download: AzureBlobStorageDriver.get                                 vs  download().readableStreamBody
 * Same block size (8 MiB) and concurrency (4) on both sides. Each step runs in its own process
 * under /usr/bin/time -v (peak RSS); steps alternate; medians.
 *
 *   node_modules/.bin/tsx bench/cloud/azure.ts [sizeMiB=1024] [reps=3]
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { openStorage } from '@mfb/storage';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '@mfb/testkit';
import { alternate, childMain, drain, makeArtifact, report } from './gcaz-lib.js';

const SCRIPT = 'bench/cloud/azure.ts';
const CONTAINER = 'bench';
const BLOCK = 8 * 1024 * 1024;
const CONCURRENCY = 4;

async function child(mode: string, endpoint: string, file: string, keyFile: string): Promise<void> {
  const ours = openStorage(`azblob://${AZURITE_ACCOUNT}/${CONTAINER}/ours`, { options: { endpoint, credentialsFile: keyFile, blockSize: BLOCK, concurrency: CONCURRENCY } });
  const sdk = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient(CONTAINER);
  // Untimed warm-up: loads the SDK (ours loads it lazily) and opens a connection.
  await ours.head('warmup');
  await sdk.getBlockBlobClient('warmup').exists();
  await childMain(async () => {
    switch (mode) {
      case 'idle': // RSS of a process that loaded everything and made one request: the floor
        return 0;
      case 'ours-up':
        return (await ours.put('up.bin', createReadStream(file, { highWaterMark: 1024 * 1024 }))).size;
      case 'sdk-up':
        await sdk.getBlockBlobClient('sdk/up.bin').uploadStream(createReadStream(file, { highWaterMark: 1024 * 1024 }), BLOCK, CONCURRENCY);
        return (await sdk.getBlockBlobClient('sdk/up.bin').getProperties()).contentLength ?? 0;
      case 'ours-down':
        return drain(await ours.get('down.bin'));
      case 'sdk-down':
        return drain((await sdk.getBlockBlobClient('ours/down.bin').download()).readableStreamBody!);
      default:
        throw new Error(`unknown mode ${mode}`);
    }
  });
}

async function main(): Promise<void> {
  const sizeMiB = Number(process.argv[2] ?? 1024);
  const reps = Number(process.argv[3] ?? 3);
  const dir = await mkdtemp(path.join(tmpdir(), 'mfb-bench-az-'));
  const az = await startAzurite();
  if (!az) throw new Error('azurite is not installed');
  try {
    process.stderr.write(`azurite started in ${az.startMs} ms; writing ${sizeMiB} MiB artifact\n`);
    const file = path.join(dir, 'artifact.bin');
    await makeArtifact(file, sizeMiB * 1024 * 1024);
    const keyFile = path.join(dir, 'key.json');
    await writeFile(keyFile, JSON.stringify({ accountKey: az.accountKey }), { mode: 0o600 });
    const service = BlobServiceClient.fromConnectionString(az.connectionString);
    await service.getContainerClient(CONTAINER).createIfNotExists();
    // The object both downloads read.
    await service.getContainerClient(CONTAINER).getBlockBlobClient('ours/down.bin').uploadFile(file, { blockSize: BLOCK, concurrency: CONCURRENCY });
    const all = await alternate(SCRIPT, ['ours-up', 'sdk-up', 'ours-down', 'sdk-down', 'idle'], reps, [az.blobEndpoint, file, keyFile]);
    const md = report(`Azure Blob (Azurite 3.35, in-memory), ${sizeMiB} MiB, ${reps} alternating runs`, all, [
      ['upload', 'ours-up', 'sdk-up'],
      ['download', 'ours-down', 'sdk-down'],
    ]);
    const idle = Math.max(...all.get('idle')!.map((r) => r.peakRssMiB));
    process.stdout.write(`${md}\n\nIdle child (tsx + SDK loaded, one request): peak RSS ${idle.toFixed(1)} MiB.\n`);
  } finally {
    await az.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!, process.argv[5]!, process.argv[6]!);
else await main();
