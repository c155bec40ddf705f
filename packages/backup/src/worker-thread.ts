import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker-thread module `./<name>.js` beside the calling module (`from` is its
 * `import.meta.url`). Compiled (dist/*.js, plain node) that file exists and Node loads it.
 * From source (`src/*.ts` under vitest or tsx) the entry is `<name>.ts`, which Node 20 cannot
 * load by itself, and a worker thread does not inherit vitest's module runner: a two-line
 * loader registers tsx's ESM hooks in the new thread first (tsx is a dev dependency, so
 * only development and tests take this path).
 */
export function startModuleWorker(from: string, name: string, options: WorkerOptions): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, from), options);
  const source = new URL(`./${name}.ts`, from).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const loader = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(loader, { ...options, eval: true });
}
