import { existsSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');

/**
 * Command and arguments that run an app's entry point (`apps/<app>/src/<file>.ts`) COMPILED:
 * `node apps/<app>/dist/<file>.js ...args`, the code `backupctl` and the Docker image run (no
 * tsx, no @mfb/source condition). Tests that start the CLI, worker or API as processes use this
 * instead of `tsNode`: a tsx start transpiles the whole import graph again (the CLI tests give
 * each process its own TMPDIR, so tsx's cache never helps) and its engine worker threads
 * register tsx once more each; the compiled start costs a fraction of that (docs/testing.md).
 *
 * `dist/` is current: `scripts/test` builds first, and the suite's global setup
 * (test/build-global.ts) runs the incremental `tsc -b` before any test, so a source change is
 * never tested stale. Test fixtures (not compiled) keep using `tsNode`.
 */
export function distNode(script: string, args: readonly string[] = []): { command: string; args: string[] } {
  const rel = relative(ROOT, resolve(ROOT, script)).split(sep);
  if (rel[0] !== 'apps' || rel[2] !== 'src' || !rel.at(-1)!.endsWith('.ts')) throw new Error(`distNode: ${script} is not an apps/<app>/src/*.ts entry`);
  const compiled = resolve(ROOT, 'apps', rel[1]!, 'dist', ...rel.slice(3, -1), rel.at(-1)!.replace(/\.ts$/, '.js'));
  if (!existsSync(compiled)) throw new Error(`distNode: ${compiled} is missing; run \`pnpm build\``);
  return { command: process.execPath, args: [compiled, ...args] };
}
