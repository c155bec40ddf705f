// The Cloud Storage emulator of firebase-tools, JSON API only, without its Java rules runtime.
//
// `firebase emulators:start --only storage` downloads and starts a Java process that evaluates
// Firebase security rules. The Google Cloud JSON API (what @google-cloud/storage speaks) does not
// consult rules at all (it uses the "admin" storage layer), so this script builds the emulator's
// Express app directly (`createApp`) and never calls `StorageEmulator.start()`, which is the only
// place that starts (or downloads) the rules runtime. Runs offline.
//
// Two checks real GCS makes and the emulator does not (it creates any bucket on first use and
// accepts any caller) are added in front of it, with GCS's JSON error shapes:
//   --buckets a,b  requests for any other bucket get 404 "The specified bucket does not exist."
//   --token T      requests without `Authorization: Bearer T` get 401 "Invalid Credentials"
// and three JSON-API behaviours the emulator lacks, as GCS documents them:
//   - chunked resumable uploads: a PUT with `Content-Range: bytes a-b/*` appends and answers
//     308 + `Range: bytes=0-b` (the emulator finalizes on every PUT); `bytes */*` asks the offset;
//   - DELETE of a resumable session URI cancels it (499);
//   - `storageClass` given at insert is kept (the emulator always stores STANDARD).
//
// Usage: node gcs-emulator.server.mjs --port 0 [--dir D] [--buckets a,b] [--token T]
// Prints `listening <port>` on stdout once it accepts connections. Blobs live under D.
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import process from 'node:process';

// firebase-tools is CommonJS and exports no subpaths map: load its modules with require.
const require = createRequire(import.meta.url);
// express is firebase-tools' own dependency: resolve it from there (the same copy its app uses).
const express = createRequire(require.resolve('firebase-tools/package.json'))('express');
const { StorageEmulator } = require('firebase-tools/lib/emulator/storage/index.js');
const { createApp } = require('firebase-tools/lib/emulator/storage/server.js');
const { EmulatorRegistry } = require('firebase-tools/lib/emulator/registry.js');
const { StorageLayer } = require('firebase-tools/lib/emulator/storage/files.js');

const uploadObject = StorageLayer.prototype.uploadObject;
StorageLayer.prototype.uploadObject = async function (upload) {
  const metadata = await uploadObject.call(this, upload);
  const wanted = upload.metadata && upload.metadata.storageClass;
  if (typeof wanted === 'string') metadata.storageClass = wanted;
  return metadata;
};

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

async function main() {
  const port = Number(arg('port', '0'));
  const buckets = arg('buckets', '') ? new Set(arg('buckets').split(',')) : undefined;
  const token = arg('token', '');
  const dir = arg('dir', '');
  // Blobs go to a private dir instead of the shared `$TMPDIR/firebase/storage/blobs`.
  if (dir) StorageEmulator.prototype.getPersistenceTmpDir = () => `${dir}/blobs`;
  // `rules: []` selects the resource-based rules manager with no resources: nothing to load.
  const emulator = new StorageEmulator({ projectId: 'demo-mfb', host: '127.0.0.1', port, rules: [], auto_download: false });
  const inner = await createApp('demo-mfb', emulator);
  const app = express();
  app.use((req, res, next) => {
    if (token && req.headers.authorization !== `Bearer ${token}`) {
      res.status(401).json({ error: { code: 401, message: 'Invalid Credentials', errors: [{ reason: 'authError', message: 'Invalid Credentials' }] } });
      return;
    }
    const m = /^\/(?:upload\/|download\/)?(?:storage\/v1\/)?b\/([^/?]+)/.exec(req.path);
    if (buckets && m && !buckets.has(decodeURIComponent(m[1]))) {
      res.status(404).json({ error: { code: 404, message: 'The specified bucket does not exist.', errors: [{ reason: 'notFound', message: 'The specified bucket does not exist.' }] } });
      return;
    }
    next();
  });
  const service = emulator.uploadService;
  const sessionOf = (req) => {
    try {
      return service.getResumableUpload(String(req.query.upload_id));
    } catch {
      return undefined;
    }
  };
  app.delete('/upload/storage/v1/b/:bucket/o', (req, res, next) => {
    if (!req.query.upload_id) return next();
    if (!sessionOf(req)) return res.sendStatus(404);
    try {
      service.cancelResumableUpload(String(req.query.upload_id));
    } catch {
      return res.sendStatus(410); // already finalized or cancelled
    }
    res.sendStatus(499);
  });
  app.put('/upload/storage/v1/b/:bucket/o', (req, res, next) => {
    const range = req.headers['content-range'] || '';
    // A malformed range (e.g. `bytes 0--1/0` for an empty final chunk) is refused, as GCS does.
    if (range && !/^bytes (\*|\d+-(\d+|\*))\/(\d+|\*)$/.test(range)) {
      return res.status(400).json({ error: { code: 400, message: `Failed to parse Content-Range header: ${range}` } });
    }
    const status = /^bytes \*\/\*$/.test(range);
    const m = /^bytes (\d+)-(\d+)\/\*$/.exec(range);
    if (!req.query.upload_id || (!status && !m)) return next();
    const upload = sessionOf(req);
    if (!upload) return res.sendStatus(404);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (m) {
        if (Number(m[1]) !== upload.size) return res.status(400).json({ error: { code: 400, message: 'Invalid request. Offset mismatch.' } });
        try {
          service.continueResumableUpload(upload.id, Buffer.concat(chunks));
        } catch {
          return res.sendStatus(499); // the session was cancelled
        }
      }
      if (upload.size > 0) res.setHeader('Range', `bytes=0-${upload.size - 1}`);
      res.status(308).end();
    });
  });
  app.use(inner);
  const server = app.listen(port, '127.0.0.1', () => {
    // The emulator builds self links and resumable-session URLs from its registry entry.
    emulator.args.port = server.address().port;
    EmulatorRegistry.set(emulator.getName(), emulator);
    process.stdout.write(`listening ${server.address().port}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`gcs emulator failed: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
