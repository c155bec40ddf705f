import { AppError } from '@mfb/errors';

/** A retention policy that could delete what must be kept (keepLast < 1) or is malformed. */
export class RetentionPolicyError extends AppError {
  constructor(message: string) {
    super('RETENTION_INVALID_POLICY', message, { permanent: true, status: 400 });
  }
}

/** Input the planner cannot order safely (bad createdAt, duplicate ids). */
export class RetentionInputError extends AppError {
  constructor(message: string) {
    super('RETENTION_INVALID_INPUT', message, { permanent: true, status: 500 });
  }
}
