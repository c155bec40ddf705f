import { isAppError } from '@mfb/errors';
import { exitCodeFor, ExitCode } from './exit-codes.js';

/**
 * Everything the CLI prints goes through here. Results go to stdout (one JSON document with
 * `--json`); progress, notes and errors go to stderr. With `--json`, errors are also printed
 * to stdout as `{"error": {...}}` so scripts parse one stream.
 */
export class Output {
  constructor(
    readonly json: boolean,
    readonly debug: boolean,
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly err: NodeJS.WritableStream = process.stderr,
  ) {}

  /** The command's result: `data` as JSON, or `human()` as text. */
  result(data: unknown, human: () => string): void {
    if (this.json) this.out.write(JSON.stringify(data, null, 2) + '\n');
    else {
      const text = human();
      if (text) this.out.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** A note for the operator (human mode: stderr; JSON mode: stderr too, stdout stays parseable). */
  note(msg: string): void {
    this.err.write(msg + '\n');
  }

  /** Print an error and return the exit code for it. Never prints a stack unless --debug. */
  error(e: unknown): ExitCode {
    const code = isAppError(e) ? (e as { code: string }).code : codeOf(e);
    const exit = isAppError(e) ? exitCodeFor(code) : ExitCode.FAILURE;
    const message = e instanceof Error ? e.message : String(e);
    // Same code as the API's answer to an unexpected error.
    const shown = code ?? 'INTERNAL_ERROR';
    this.err.write(`error[${shown}]: ${message}\n`);
    if (this.debug && e instanceof Error && e.stack) {
      this.err.write(e.stack + '\n');
      for (let c = (e as { cause?: unknown }).cause, d = 0; c && d < 5; c = (c as { cause?: unknown }).cause, d++) {
        this.err.write('caused by: ' + (c instanceof Error ? (c.stack ?? c.message) : String(c)) + '\n');
      }
    }
    if (this.json) {
      const details = isAppError(e) ? (e as { details?: Record<string, unknown> }).details : undefined;
      this.out.write(JSON.stringify({ error: { code: shown, message, exitCode: exit, ...(details ? { details } : {}) } }, null, 2) + '\n');
    }
    return exit;
  }
}

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}
