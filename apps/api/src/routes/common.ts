import { ProblemSchema } from '@mfb/client';
import { DatabaseNotFoundError } from '../errors.js';
import type { FastifyInstance } from 'fastify';
import type { DatabaseConfig } from '@mfb/config';

/** Error responses every route documents (bodies are problem+json). */
export const problemResponses = {
  '4xx': { ...ProblemSchema, description: 'Client error (problem+json)' },
  '5xx': { ...ProblemSchema, description: 'Server error (problem+json)' },
} as const;

/** The configured database `id`. @throws DatabaseNotFoundError */
export function databaseOr404(app: FastifyInstance, id: string): DatabaseConfig {
  const db = app.config.databases.find((d) => d.id === id);
  if (!db) throw new DatabaseNotFoundError(id);
  return db;
}
