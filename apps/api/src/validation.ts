import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
type FormatsPlugin = (ajv: Ajv) => Ajv;
const formatsModule = addFormatsModule as unknown as FormatsPlugin & { default?: FormatsPlugin };
const addFormats: FormatsPlugin = formatsModule.default ?? formatsModule;

const BASE: Options = { removeAdditional: false, useDefaults: true, allErrors: false, addUsedSchema: false };

/**
 * Validators for request parts. Query strings, params and headers arrive as strings, so they
 * are coerced (`limit=50` -> 50); JSON bodies already carry their types, so a body field of
 * the wrong type (`"paused": "true"`, `"scheduleId": 5`) is a 400, never silently converted.
 * Unknown fields are never removed (`removeAdditional: false`): closed schemas reject them.
 */
export function requestValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const coercing = new Ajv({ ...BASE, coerceTypes: 'array' });
  const strict = new Ajv({ ...BASE, coerceTypes: false });
  addFormats(coercing);
  addFormats(strict);
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object);
}
