import { AppError } from '@mfb/errors';

/** The codes a {@link ConfigError} can carry (docs/errors.md lists them). */
export const CONFIG_ERROR_CODES = ['CONFIG_INVALID', 'CONFIG_FILE_NOT_FOUND', 'CONFIG_KEY_FILE_EXISTS'] as const;
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];

/**
 * The configuration is unusable. Permanent: retrying cannot help, the operator must fix it.
 * `code` is CONFIG_INVALID (validation), CONFIG_FILE_NOT_FOUND (an explicitly named file is
 * missing) or CONFIG_KEY_FILE_EXISTS (`generateKeyFile` refused to overwrite). Messages name
 * the field path (`databases[1].compression.level`) and never contain secret values.
 */
export class ConfigError extends AppError {
  /** Every problem found, one line each (`<path>: <what is wrong>`). */
  readonly problems: string[];

  constructor(code: ConfigErrorCode, message: string, problems: string[] = [], cause?: unknown) {
    super(code, message, { permanent: true, status: 500, details: { problems }, ...(cause !== undefined ? { cause } : {}) });
    this.problems = problems;
  }
}
