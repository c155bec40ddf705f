/**
 * Vitest global setup: bring the compiled `dist/` of every package and app up to date (the
 * incremental `tsc -b` of `pnpm build`, a few seconds when nothing changed) before any test
 * runs. Tests that start the CLI, worker or API as processes run that compiled code
 * (`distNode` in @mfb/testkit), so a source change must never be tested stale. Done once here,
 * not per test file: files run in parallel and two `tsc -b` writing one dist/ would race.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export default function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  const projects = ['packages', 'apps']
    .flatMap((group) => readdirSync(join(root, group)).map((name) => join(group, name, 'tsconfig.build.json')))
    .filter((p) => existsSync(join(root, p)));
  try {
    execFileSync(join(root, 'node_modules/.bin/tsc'), ['-b', ...projects], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (e) {
    const out = e as { stdout?: string; stderr?: string };
    throw new Error(`global setup: \`pnpm build\` (tsc -b) failed; the process tests run the compiled dist/:\n${out.stdout ?? ''}${out.stderr ?? ''}`, { cause: e });
  }
}
