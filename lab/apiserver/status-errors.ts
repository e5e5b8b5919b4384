// Kubernetes Status error values (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Gone) and their HTTP codes.
import type { Result as SharedResult } from '../../src/result.ts';

export interface StatusCause { reason: string; message: string; field: string }

export interface ApiError {
  code: number;
  reason: string;
  message: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
}

/** The lab API's outcome: the shared Result with a Kubernetes Status error. */
export type Result<T> = SharedResult<T, ApiError>;

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T>(error: ApiError): Result<T> => ({ ok: false, error });

export interface Qualified { group: string; plural: string; name: string }

function resourceName(q: Qualified): string {
  return q.group ? `${q.plural}.${q.group}` : q.plural;
}

export function notFound(q: Qualified): ApiError {
  return { code: 404, reason: 'NotFound', message: `${resourceName(q)} "${q.name}" not found`,
    details: { name: q.name, group: q.group, kind: q.plural } };
}

export function alreadyExists(q: Qualified): ApiError {
  return { code: 409, reason: 'AlreadyExists', message: `${resourceName(q)} "${q.name}" already exists`,
    details: { name: q.name, group: q.group, kind: q.plural } };
}

export function conflict(q: Qualified, why: string): ApiError {
  return { code: 409, reason: 'Conflict',
    message: `Operation cannot be fulfilled on ${resourceName(q)} "${q.name}": ${why}`,
    details: { name: q.name, group: q.group, kind: q.plural } };
}

export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): ApiError {
  const what = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return { code: 422, reason: 'Invalid', message: `${kind} "${name}" is invalid: ${what}`,
    details: { name, group, kind, causes } };
}

export function badRequest(message: string): ApiError {
  return { code: 400, reason: 'BadRequest', message };
}

export function gone(message: string): ApiError {
  return { code: 410, reason: 'Expired', message };
}

export function methodNotAllowed(message: string): ApiError {
  return { code: 405, reason: 'MethodNotAllowed', message };
}

export function forbidden(message: string): ApiError {
  return { code: 403, reason: 'Forbidden', message };
}

export function unauthorized(): ApiError {
  return { code: 401, reason: 'Unauthorized', message: 'Unauthorized' };
}

/** The JSON body of a failure, as the real server sends it. */
export function statusBody(error: ApiError): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: error.message,
    reason: error.reason, ...(error.details ? { details: error.details } : {}), code: error.code };
}
