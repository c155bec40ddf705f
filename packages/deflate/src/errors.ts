import { AppError } from '@mfb/errors';

/** libdeflate could not allocate its compressor or the output buffer. Transient: retry later. */
export class DeflateOutOfMemoryError extends AppError {
  constructor(cause?: unknown) {
    super('DEFLATE_OUT_OF_MEMORY', 'gzip compression (libdeflate): out of memory', { permanent: false, cause });
  }
}

/** libdeflate reported a failure it should never report (output larger than its own bound). */
export class DeflateFailedError extends AppError {
  constructor(cause?: unknown) {
    super('DEFLATE_FAILED', 'gzip compression (libdeflate) failed', { permanent: false, cause });
  }
}
