import type { MessagePort } from 'node:worker_threads';
import { AbortedError } from './errors.js';
import type { SqliteTaskAnswer, SqliteTaskData, SqliteTaskName, StreamBlock, StreamMeta, WorkerFailure } from './sqlite-task.js';
import { startModuleWorker } from './worker-thread.js';

export type { WorkerFailure };

/** Thrown by {@link runSqliteTask} for a failure inside the worker; callers map it. */
export class SqliteTaskError extends Error {
  constructor(readonly failure: WorkerFailure) {
    super(`${failure.stage}: ${failure.code} ${failure.message}`);
    (this as { code?: string }).code = failure.code;
  }
}

/**
 * Runs one SQLite task (sqlite-task.ts) in a fresh worker thread. On abort the task is asked
 * to stop at its next step and the promise rejects with {@link AbortedError} once it has.
 */
export function runSqliteTask<T>(
  task: SqliteTaskName,
  args: Record<string, unknown>,
  signal?: AbortSignal,
  stream?: { onMessage: (m: StreamMeta | StreamBlock) => void; returnPort: MessagePort; abortFlag: Int32Array },
): Promise<T> {
  if (signal?.aborted) return Promise.reject(new AbortedError());
  return new Promise((resolve, reject) => {
    const abortFlag = stream?.abortFlag ?? new Int32Array(new SharedArrayBuffer(8));
    const workerData: SqliteTaskData = { task, args, abortFlag, ...(stream ? { returnPort: stream.returnPort } : {}) };
    const worker = startModuleWorker(import.meta.url, 'sqlite-task', { workerData, ...(stream ? { transferList: [stream.returnPort] } : {}) });
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    // Ask the task to stop at its next step and wait for its answer (never terminate a worker
    // inside a SQLite call); the caller then removes its files.
    const onAbort = (): void => {
      Atomics.store(abortFlag, 0, 1);
      Atomics.notify(abortFlag, 0);
      Atomics.add(abortFlag, 1, 1);
      Atomics.notify(abortFlag, 1);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const onMessage = (m: SqliteTaskAnswer | StreamMeta | StreamBlock): void => {
      if ('kind' in m) return stream?.onMessage(m);
      worker.off('message', onMessage);
      finish(() =>
        // The worker is idle once it has answered: terminating it now is safe.
        void worker.terminate().finally(() => {
          if (signal?.aborted) reject(new AbortedError());
          else if (m.ok) resolve(m.result as T);
          else reject(new SqliteTaskError({ code: m.code, message: m.message, stage: m.stage }));
        }),
      );
    };
    worker.on('message', onMessage);
    worker.once('error', (err) => finish(() => reject(signal?.aborted ? new AbortedError({ cause: err }) : err)));
    worker.once('exit', (code) => finish(() => reject(new Error(`sqlite worker exited with code ${code}`))));
  });
}
