/**
 * `backupctl`: the operator CLI. Run with `node_modules/.bin/tsx apps/cli/src/main.ts`,
 * `pnpm cli ...`, or `apps/cli/bin/backupctl.js`. See apps/cli/README.md.
 */
import { runCli } from './program.js';

const code = await runCli(process.argv);
// Exit once stdout/stderr are flushed (pipes are asynchronous), without waiting on stray handles.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
