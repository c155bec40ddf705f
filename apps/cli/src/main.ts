/**
 * `backupctl`: the operator CLI. Compiled: `apps/cli/bin/backupctl.js` (runs dist/main.js);
 * from source: `pnpm -s cli ...`. See apps/cli/README.md.
 */
import { runCli } from './program.js';

const code = await runCli(process.argv);
// Exit once stdout/stderr are flushed (pipes are asynchronous), without waiting on stray handles.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
