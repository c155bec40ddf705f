/** `log`: the log level (env MFB_LOG_LEVEL). */
import { Type } from '@sinclair/typebox';
import { DEFAULTS } from '../defaults.js';
import { OneOf } from './common.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const LogSchema = Type.Object(
  { level: Type.Optional(OneOf(LOG_LEVELS, `default ${DEFAULTS.logLevel} (env MFB_LOG_LEVEL)`)) },
  { additionalProperties: false },
);
