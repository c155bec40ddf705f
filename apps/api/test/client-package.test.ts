/**
 * `@mfb/client` as the dashboard gets it: `pnpm pack` of packages/client, installed with npm
 * into a fresh project outside the workspace (the tarball plus its registry dependencies),
 * type-checked with tsc against its declarations, bundled for a browser, and run by plain node
 * against a real API listening on a port.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startTestApp, type TestApp } from './helpers.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const clientDir = join(repo, 'packages/client');
const tsc = join(repo, 'node_modules/.bin/tsc');

// npm/pnpm settings of the test runner (pnpm sets npm_config_*) must not reach the fresh project.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^pnpm_/i.test(k)));

const PROGRAM = `import { ApiError, createClient, type Accepted, type DatabaseSummary, type JobView } from '@mfb/client';

export async function main(baseUrl: string, apiKey: string): Promise<string> {
  const client = createClient({ baseUrl, apiKey });
  const databases: DatabaseSummary[] = await client.listDatabases();
  const accepted: Accepted = await client.triggerBackup(databases[0]!.id);
  const job: JobView = await client.getJob(accepted.jobId);
  let notFound = '';
  try {
    await client.getDatabase('no-such-db');
  } catch (err) {
    if (err instanceof ApiError) notFound = err.status + ' ' + err.code;
  }
  return JSON.stringify({ databases: databases.map((d) => d.id), queue: accepted.queue, job: job.id === accepted.jobId, state: job.state, notFound });
}
`;

/** Must not type-check: proves the declarations are real types, not \`any\`. */
const WRONG = `import { createClient } from '@mfb/client';
const client = createClient({ baseUrl: 'http://x', apiKey: 'k' });
export const n: number = (await client.getDatabase('main')).id;
`;

const tsconfig = (files: string[]): string =>
  JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, lib: ['ES2022', 'DOM'], types: [], outDir: 'out', skipLibCheck: false },
    files,
  });

describe('@mfb/client package', () => {
  let work: string;
  let project: string;
  let tarball: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'client-pack-'));
    execFileSync(tsc, ['-b', join(clientDir, 'tsconfig.build.json')], { stdio: 'inherit' });
    execFileSync('pnpm', ['pack', '--pack-destination', work], { cwd: clientDir, stdio: 'ignore' });
    tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);

    project = join(work, 'dashboard');
    execFileSync('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'dashboard', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: project, env: cleanEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    writeFileSync(join(project, 'main.ts'), PROGRAM);
    writeFileSync(join(project, 'wrong.ts'), WRONG);
    writeFileSync(join(project, 'tsconfig.json'), tsconfig(['main.ts', 'wrong.ts']));
    writeFileSync(join(project, 'run.mjs'), "import { main } from './out/main.js';\nconsole.log(await main(process.argv[2], process.argv[3]));\n");
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('packs compiled ESM with declarations and only registry dependencies', () => {
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(manifest.private).toBeUndefined();
    expect(manifest.exports).toEqual({ '.': { types: './dist/index.d.ts', default: './dist/index.js' } });
    const deps = { ...(manifest.dependencies as object), ...(manifest.peerDependencies as object) } as Record<string, string>;
    for (const [name, version] of Object.entries(deps)) {
      expect(name).not.toMatch(/^@mfb\//);
      expect(version).not.toMatch(/^(workspace|catalog):/);
    }
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(files).toEqual(expect.arrayContaining(['package/dist/index.js', 'package/dist/index.d.ts']));
    expect(files.filter((f) => /tsbuildinfo|\.test\./.test(f))).toEqual([]);
  });

  it('type-checks a program against the installed package, and rejects a wrong one', () => {
    // One tsc run over both files (and the package's declarations: skipLibCheck is off); it
    // still emits main.js for the test below.
    const r = spawnSync(tsc, ['-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8' });
    const errors = (r.stdout + r.stderr).split('\n').filter((l) => /error TS/.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^wrong\.ts\(3,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });

  it('bundles for a browser (no node: imports on its runtime path)', async () => {
    writeFileSync(join(project, 'browser.js'), "import { createClient } from '@mfb/client';\nwindow.client = createClient({ baseUrl: location.origin, apiKey: 'k' });\n");
    const out = await build({ entryPoints: [join(project, 'browser.js')], absWorkingDir: project, bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    expect(out.errors).toEqual([]);
    expect(out.outputFiles[0]!.text).toContain('/v1/databases');
  });

  describe('against a running API', () => {
    let t: TestApp;
    let url: string;
    beforeAll(async () => {
      t = await startTestApp();
      url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(() => t?.close());

    it('lists databases, triggers a backup, reads its job and maps an error (plain node, outside the workspace)', async () => {
      // Asynchronous: the API answers from this process's event loop.
      const r = await new Promise<{ stdout: string; stderr: string }>((res, rej) => {
        execFile(process.execPath, ['run.mjs', url, KEYS.write], { cwd: project, env: cleanEnv }, (err, stdout, stderr) => (err ? rej(err) : res({ stdout, stderr })));
      });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({
        databases: ['main', 'other'],
        queue: 'backup',
        job: true,
        state: expect.stringMatching(/^(waiting|delayed|prioritized)$/),
        notFound: expect.stringMatching(/^404 [A-Z_]+_NOT_FOUND$/),
      });
    });
  });
});
