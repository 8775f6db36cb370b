import type { z } from 'zod';
import type { ErrorCode } from '@goutong/core';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  upgrade_required: 426,
};

/** An expected failure with an HTTP status and a stable code; the message is safe to show. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly code: ErrorCode, message: string, readonly details?: unknown) {
    super(message);
  }
  get status(): number {
    return STATUS[this.code];
  }
}

export const badRequest = (m: string, details?: unknown) => new ApiError('bad_request', m, details);
export const unauthorized = (m = 'authentication required') => new ApiError('unauthorized', m);
export const forbidden = (m = 'not allowed') => new ApiError('forbidden', m);
export const notFound = (m = 'not found') => new ApiError('not_found', m);
export const conflict = (m: string) => new ApiError('conflict', m);

/** Parses input with a schema; answers 400 with the issues on failure. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw badRequest(`invalid ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ')}`, r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })));
  }
  return r.data;
}
