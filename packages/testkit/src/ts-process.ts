import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
/** tsx's ESM loader, for `node --import`: the TypeScript runs in the node process itself. */
const TSX_LOADER = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist/loader.mjs')).href;

/**
 * Command and arguments that run a TypeScript entry point from source as ONE node process:
 * `node --conditions=@mfb/source --import <tsx loader> <script> ...args`. Unlike the `tsx` CLI,
 * which runs the script in a child process and relays signals to it, a test's SIGTERM,
 * SIGINT and SIGKILL reach the program itself, and its exit code is the program's own.
 */
export function tsNode(script: string, args: readonly string[] = []): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--conditions=@mfb/source', '--import', TSX_LOADER, script, ...args] };
}
