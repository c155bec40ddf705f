import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, ExitCode } from '../src/exit-codes.js';
import { createProgress } from '../src/progress.js';
import { Output } from '../src/output.js';
import { DatabaseNotFoundError } from '../src/errors.js';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

describe('exit codes', () => {
  it('maps stable error codes and families', () => {
    expect(exitCodeFor('BACKUP_SOURCE_NOT_FOUND')).toBe(ExitCode.SOURCE);
    expect(exitCodeFor('BACKUP_NOT_SQLITE')).toBe(ExitCode.SOURCE);
    expect(exitCodeFor('BACKUP_AUTH_FAILED')).toBe(ExitCode.INTEGRITY);
    expect(exitCodeFor('BACKUP_WRONG_KEY')).toBe(ExitCode.INTEGRITY);
    expect(exitCodeFor('BACKUP_CHECKSUM_MISMATCH')).toBe(ExitCode.INTEGRITY);
    expect(exitCodeFor('RESTORE_TARGET_BUSY')).toBe(ExitCode.TARGET);
    expect(exitCodeFor('CONFIG_INVALID')).toBe(ExitCode.CONFIG);
    expect(exitCodeFor('DATABASE_NOT_FOUND')).toBe(ExitCode.NOT_FOUND);
    expect(exitCodeFor('CLI_USAGE')).toBe(ExitCode.USAGE);
    expect(exitCodeFor('SOMETHING_ELSE')).toBe(ExitCode.FAILURE);
    expect(exitCodeFor(undefined)).toBe(ExitCode.FAILURE);
  });
});

describe('output', () => {
  it('prints error[CODE]: message, JSON on stdout with --json, no stack without --debug', () => {
    const out = new Sink();
    const err = new Sink();
    const o = new Output(true, false, out as unknown as NodeJS.WriteStream, err as unknown as NodeJS.WriteStream);
    const code = o.error(new DatabaseNotFoundError('nope', ['demo']));
    expect(code).toBe(ExitCode.NOT_FOUND);
    expect(err.text).toBe('error[DATABASE_NOT_FOUND]: no database "nope" is configured (configured: demo)\n');
    expect(JSON.parse(out.text)).toEqual({
      error: { code: 'DATABASE_NOT_FOUND', message: 'no database "nope" is configured (configured: demo)', exitCode: 4, details: { databaseId: 'nope' } },
    });
    const plain = new Sink();
    expect(new Output(false, false, out as unknown as NodeJS.WriteStream, plain as unknown as NodeJS.WriteStream).error(new Error('boom'))).toBe(1);
    expect(plain.text).toBe('error[INTERNAL_ERROR]: boom\n');
  });
});

describe('progress', () => {
  it('prints plain lines per 10% step when not a TTY, nothing when quiet', () => {
    const s = new Sink();
    const p = createProgress({ stream: s as unknown as NodeJS.WriteStream, quiet: false });
    for (let i = 0; i <= 100; i++) p.update({ stage: 'compress', bytesDone: i * 1024 * 1024, bytesTotal: 100 * 1024 * 1024 });
    p.done();
    const lines = s.text.trim().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('progress: compress 0% (0.0/100.0 MiB)');
    expect(lines[10]).toBe('progress: compress 100% (100.0/100.0 MiB)');
    const q = new Sink();
    const quiet = createProgress({ stream: q as unknown as NodeJS.WriteStream, quiet: true });
    quiet.update({ stage: 'compress', bytesDone: 1, bytesTotal: 2 });
    expect(q.text).toBe('');
  });

  it('redraws one bar on a TTY and ends the line when done', () => {
    const s = Object.assign(new Sink(), { isTTY: true, columns: 100 });
    let t = 0;
    const p = createProgress({ stream: s as unknown as NodeJS.WriteStream, quiet: false, now: () => (t += 200) });
    p.update({ stage: 'compress', bytesDone: 50, bytesTotal: 100 });
    p.update({ stage: 'compress', bytesDone: 100, bytesTotal: 100 });
    p.done();
    expect(s.text).toContain('\r\x1b[2Kcompress [');
    expect(s.text).toContain('100%');
    expect(s.text.endsWith('\n')).toBe(true);
  });
});
