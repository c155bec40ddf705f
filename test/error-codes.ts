/**
 * Every error code the code base defines, collected from the code itself: each exported
 * `AppError` subclass of every package and app (constructed with placeholder arguments, so
 * its code, HTTP status and permanence are the real ones), plus the registries of codes that
 * no class fixes (the API's `HTTP_PROBLEMS`, `CONFIG_ERROR_CODES`, the client's transport codes).
 */
import * as backup from '@mfb/backup';
import * as catalog from '@mfb/catalog';
import * as client from '@mfb/client';
import * as config from '@mfb/config';
import * as deflate from '@mfb/deflate';
import * as errors from '@mfb/errors';
import * as jobs from '@mfb/jobs';
import * as retention from '@mfb/retention';
import * as storage from '@mfb/storage';
import * as apiErrors from '../apps/api/src/errors.js';
import * as cliErrors from '../apps/cli/src/errors.js';
import * as workerErrors from '../apps/worker/src/errors.js';

export interface CodeFacts {
  code: string;
  /** HTTP status (0: never an HTTP answer, e.g. the client's own transport failures). */
  status: number;
  permanent: boolean;
  /** Where it was found (class or registry names), for failure messages. */
  from: string[];
}

const PLACEHOLDER = '\u0000placeholder';
const MODULES: Record<string, Record<string, unknown>> = { errors, config, storage, backup, catalog, jobs, retention, deflate, client, api: apiErrors, worker: workerErrors, cli: cliErrors };

/** Same rule as the client's `ApiError` and the API's `ApiProblem`: 408, 429 and 5xx may succeed later. */
const permanentFor = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429;

/** Construct with placeholder arguments: strings first, a list where a constructor wants one. */
function construct(Cls: new (...args: unknown[]) => errors.AppError, what: string): errors.AppError {
  const S = PLACEHOLDER;
  for (const args of [[S], [S, S], [S, []], [S, S, S], [S, S, []], [S, S, S, S]]) {
    try {
      return new Cls(...args);
    } catch {
      // try the next shape
    }
  }
  throw new Error(`cannot construct ${what} with placeholder arguments; give collectCodes a way to`);
}

export function collectCodes(): { codes: Map<string, CodeFacts>; conflicts: string[] } {
  const codes = new Map<string, CodeFacts>();
  const conflicts: string[] = [];
  const add = (f: CodeFacts): void => {
    const seen = codes.get(f.code);
    if (!seen) return void codes.set(f.code, f);
    if (seen.status !== f.status || seen.permanent !== f.permanent) {
      conflicts.push(`${f.code}: ${seen.from.join(', ')} say ${seen.status}/${seen.permanent}, ${f.from.join(', ')} say ${f.status}/${f.permanent}`);
    }
    seen.from.push(...f.from);
  };
  for (const [mod, exports] of Object.entries(MODULES)) {
    for (const [name, value] of Object.entries(exports)) {
      // The client's errors extend its own ClientError (no workspace dependency), shaped like AppError.
      if (typeof value !== 'function' || !(value.prototype instanceof errors.AppError || value.prototype instanceof client.ClientError)) continue;
      const Cls = value as new (...args: unknown[]) => errors.AppError;
      const e = construct(Cls, `${mod}.${name}`);
      // A class whose code its caller chooses (a base class, ConfigError, ApiProblem, ...):
      // its codes come from a registry below.
      if (e.code === PLACEHOLDER || typeof e.status !== 'number') continue;
      add({ code: e.code, status: e.status, permanent: e.permanent, from: [`${mod}.${name}`] });
    }
  }
  for (const [code, status] of Object.entries(apiErrors.HTTP_PROBLEMS)) add({ code, status, permanent: permanentFor(status), from: ['api.HTTP_PROBLEMS'] });
  for (const code of config.CONFIG_ERROR_CODES) {
    const e = new config.ConfigError(code, PLACEHOLDER);
    add({ code, status: e.status, permanent: e.permanent, from: ['config.CONFIG_ERROR_CODES'] });
  }
  for (const code of client.CLIENT_TRANSPORT_CODES) add({ code, status: 0, permanent: false, from: ['client.CLIENT_TRANSPORT_CODES'] });
  return { codes, conflicts };
}
