/**
 * The rule checkers that ./scripts/test runs on the repository (`pnpm -s deps`: dependency-cruiser
 * with .dependency-cruiser.cjs; `pnpm -s knip` with knip.jsonc) must be able to fail: each rule
 * runs here, with the repository's own config file, on a tiny fixture that breaks it, and on one
 * that keeps every rule (so a rule that matches everything would fail too).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string) => join(repo, 'node_modules/.bin', name);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A fixture tree: `files` maps relative paths to contents. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** The command `pnpm -s deps` runs, in `dir`: exit code and the violations it printed. */
function depcruise(dir: string): { code: number | null; violations: string[] } {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }));
  const r = spawnSync(bin('depcruise'), ['apps', 'packages', '--config', join(repo, '.dependency-cruiser.cjs')], { cwd: dir, encoding: 'utf8' });
  // "  error app-imports-app: apps/api/src/main.ts → apps/worker/src/main.ts"
  const violations = [...(r.stdout + r.stderr).matchAll(/^\s*error (\S+): (\S+) → (\S+)$/gm)].map((m) => `${m[1]}: ${m[2]} -> ${m[3]}`).sort();
  return { code: r.status, violations };
}

describe('dependency rules (dependency-cruiser, .dependency-cruiser.cjs)', () => {
  it('reports every forbidden edge of docs/architecture.md', () => {
    const dir = fixture({
      'apps/api/src/main.ts': "import { w } from '../../worker/src/main.js';\nexport const a = w;\n",
      'apps/worker/src/main.ts': 'export const w = 1;\n',
      'packages/errors/src/index.ts': "import { w } from '../../../apps/worker/src/main.js';\nexport const e = w;\n",
      'packages/backup/src/index.ts': "import { Queue } from 'bullmq';\nexport const q = Queue;\n",
      'packages/catalog/src/index.ts': "import { j } from '../../jobs/src/index.js';\nexport const c = j;\n",
      'packages/retention/src/index.ts': "import { t } from '../../testkit/src/index.js';\nexport const r = t;\n",
      'packages/storage/src/index.ts': "import { q } from '../../backup/src/index.js';\nexport const s = q;\n",
      'packages/jobs/src/index.ts': 'export const j = 1;\n',
      'packages/testkit/src/index.ts': 'export const t = 1;\n',
      'packages/config/src/index.ts': "import { nothing } from './missing.js';\nexport const n = nothing;\n",
      'node_modules/bullmq/package.json': JSON.stringify({ name: 'bullmq', version: '6.7.0', main: 'index.js' }),
      'node_modules/bullmq/index.js': 'exports.Queue = class {};\n',
    });
    const r = depcruise(dir);
    expect(r.code).not.toBe(0);
    expect(r.violations).toEqual([
      'app-imports-app: apps/api/src/main.ts -> apps/worker/src/main.ts',
      'engine-imports-queue: packages/backup/src/index.ts -> node_modules/bullmq/index.js',
      'engine-imports-queue: packages/catalog/src/index.ts -> packages/jobs/src/index.ts',
      'not-to-unresolvable: packages/config/src/index.ts -> ./missing.js',
      'package-imports-app: packages/errors/src/index.ts -> apps/worker/src/main.ts',
      'src-imports-testkit: packages/retention/src/index.ts -> packages/testkit/src/index.ts',
      'storage-imports-backup: packages/storage/src/index.ts -> packages/backup/src/index.ts',
    ]);
  });

  it('accepts the allowed direction (apps -> packages, engine -> storage, tests -> testkit, jobs -> bullmq)', () => {
    const dir = fixture({
      'apps/api/src/main.ts': "import { j } from '../../../packages/jobs/src/index.js';\nexport const a = j;\n",
      'apps/api/test/api.test.ts': "import { t } from '../../../packages/testkit/src/index.js';\nexport const x = t;\n",
      'packages/backup/src/index.ts': "import { s } from '../../storage/src/index.js';\nexport const b = s;\n",
      'packages/backup/src/backup.test.ts': "import { t } from '../../testkit/src/index.js';\nexport const x = t;\n",
      'packages/storage/src/index.ts': 'export const s = 1;\n',
      'packages/jobs/src/index.ts': "import { Queue } from 'bullmq';\nexport const j = Queue;\n",
      'packages/testkit/src/index.ts': 'export const t = 1;\n',
      'node_modules/bullmq/package.json': JSON.stringify({ name: 'bullmq', version: '6.7.0', main: 'index.js' }),
      'node_modules/bullmq/index.js': 'exports.Queue = class {};\n',
    });
    const r = depcruise(dir);
    expect(r.violations).toEqual([]);
    expect(r.code).toBe(0);
  });
});

describe('unused dependencies and files (knip, knip.jsonc)', () => {
  const run = (dir: string) => {
    copyFileSync(join(repo, 'knip.jsonc'), join(dir, 'knip.jsonc'));
    return spawnSync(bin('knip'), ['--reporter', 'json', '--no-config-hints'], { cwd: dir, encoding: 'utf8' });
  };
  const pkg = (deps: Record<string, string>) =>
    JSON.stringify({ name: 'fixture', version: '1.0.0', type: 'module', exports: './src/index.ts', dependencies: deps });

  it('fails on a dependency nothing imports and on a file nothing reaches', () => {
    const dir = fixture({
      'package.json': pkg({ 'left-pad': '1.3.0' }),
      'src/index.ts': 'export const x = 1;\n',
      'src/orphan.ts': 'export const orphan = 2;\n',
    });
    const r = run(dir);
    expect(r.status).not.toBe(0);
    const issues = (JSON.parse(r.stdout) as { issues: Array<{ dependencies: Array<{ name: string }>; files: Array<{ name: string }> }> }).issues;
    expect(issues.flatMap((i) => i.dependencies.map((d) => d.name))).toEqual(['left-pad']);
    expect(issues.flatMap((i) => i.files.map((f) => f.name))).toEqual(['src/orphan.ts']);
  });

  it('passes when every dependency is imported and every file reached', () => {
    const dir = fixture({
      'package.json': pkg({ 'left-pad': '1.3.0' }),
      'src/index.ts': "import pad from 'left-pad';\nimport { y } from './used.js';\nexport const x = pad(String(y), 3);\n",
      'src/used.ts': 'export const y = 2;\n',
    });
    const r = run(dir);
    expect(r.stderr + r.stdout).not.toMatch(/left-pad|used\.ts/);
    expect(r.status).toBe(0);
  });
});
