// The one value-or-error type used at every edge (flags, files, the API, annotations, kernel tools, gobgpd):
// a parser or call returns its problem as a value instead of throwing; exceptions are left for bugs.
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}
