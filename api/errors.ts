// One error shape for every response the API refuses: `{error: {code, message, field?, requestId}}`.
// Handlers throw ApiError (or a domain error the mapper below knows); nothing else leaks a stack.
import type { ErrorRequestHandler, Request } from 'express';
import { z } from 'zod';
import { isConnectionError } from '../infra/db/db.js';

import type { ErrorBody } from './error-body.js';
export type { ErrorBody };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, field?: string, code = 'BAD_REQUEST') => new ApiError(400, code, message, field);
export const notFound = (message: string) => new ApiError(404, 'NOT_FOUND', message);

/** Zod issues → 400 naming the first offending field (all issues are in the message). */
export function validationError(where: 'body' | 'query' | 'params' | 'form', error: z.ZodError): ApiError {
  const first = error.issues[0];
  const field = first && first.path.length ? first.path.map(String).join('.') : undefined;
  const detail = error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`).join('; ');
  return new ApiError(400, 'VALIDATION_FAILED', `invalid ${where}: ${detail}`, field ? field : undefined);
}

export function requestId(req: Request): string {
  return String((req as Request & { id?: unknown }).id ?? '');
}

export function errorBody(req: Request, e: ApiError): ErrorBody {
  const body: ErrorBody = { error: { code: e.code, message: e.message, requestId: requestId(req) } };
  if (e.field) body.error.field = e.field;
  return body;
}

/** Maps errors from express' body parsers, multer and our stores to ApiErrors. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { type?: string; code?: string; status?: number; name?: string; message?: string; field?: string };
  if (e?.type === 'entity.parse.failed')
    return new ApiError(400, 'MALFORMED_JSON', `request body is not valid JSON: ${e.message ?? ''}`.trim());
  if (e?.type === 'entity.too.large') return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'request body is too large');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
    return new ApiError(415, 'UNSUPPORTED_ENCODING', e.message ?? 'unsupported encoding');
  if (e?.name === 'MulterError') {
    if (e.code === 'LIMIT_FILE_SIZE')
      return new ApiError(413, 'UPLOAD_TOO_LARGE', `upload exceeds the size limit${e.field ? ` (field ${e.field})` : ''}`, e.field);
    return new ApiError(400, 'BAD_UPLOAD', `${e.message ?? 'bad multipart upload'}${e.field ? ` (field ${e.field})` : ''}`, e.field);
  }
  if (e?.code === 'CAMERA_NOT_FOUND' || e?.code === 'CASE_NOT_FOUND') return new ApiError(404, 'NOT_FOUND', e.message ?? 'not found');
  if (e?.code === 'CAMERA_EXISTS') return new ApiError(409, 'CONFLICT', e.message ?? 'already exists');
  if (e?.code === 'VERSION_CONFLICT') return new ApiError(412, 'VERSION_CONFLICT', e.message ?? 'version conflict');
  if (e?.code === 'INVALID_TRANSITION') return new ApiError(409, 'INVALID_TRANSITION', e.message ?? 'invalid transition');
  if (isConnectionError(err))
    return new ApiError(503, 'DATABASE_UNAVAILABLE', `the database is unreachable; retry later (${e?.message ?? 'connection failed'})`);
  if (e?.name === 'ConfigError') return new ApiError(400, 'VALIDATION_FAILED', e.message ?? 'invalid configuration');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500)
    return new ApiError(e.status, 'BAD_REQUEST', e.message ?? 'bad request');
  return new ApiError(500, 'INTERNAL', 'internal error');
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const e = toApiError(err);
  // 5xx are ours: log the real error (the client only gets the request id to quote).
  if (e.status >= 500) req.log?.error({ err }, 'request failed');
  else req.log?.info({ code: e.code, field: e.field, msg: e.message }, 'request refused');
  if (res.headersSent) return;
  res.status(e.status).json(errorBody(req, e));
};
