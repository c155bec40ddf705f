import { AppError } from '@mfb/errors';

/**
 * A retention policy that is malformed or could delete what must be kept. `field` is the
 * policy field at fault (`keepDaily`, `keepWithin`, ...; `''` for the policy as a whole) and
 * `detail` the message without it, so the config layer can prefix its own path
 * (`databases[0].retention.keepDaily: must be an integer >= 0, got -1`).
 */
export class RetentionPolicyError extends AppError {
  readonly field: string;
  readonly detail: string;
  constructor(field: string, detail: string) {
    super('RETENTION_INVALID_POLICY', field ? `${field}: ${detail}` : detail, { permanent: true, status: 400, details: { field } });
    this.field = field;
    this.detail = detail;
  }
}

/** Input the planner cannot order safely (bad createdAt, duplicate ids, missing sizes under a byte budget). */
export class RetentionInputError extends AppError {
  constructor(message: string) {
    super('RETENTION_INVALID_INPUT', message, { permanent: true, status: 500 });
  }
}
