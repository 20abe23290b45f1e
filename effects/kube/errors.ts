// Typed errors of the Kubernetes adapters. `code` names the API server's reason
// (Conflict, AlreadyExists, NotFound, Gone…) or the transport failure
// (Network, Timeout); `retryable` is a fact about the failure, not a policy.
import { EffectError } from '../errors.js';

export type KubeErrorCode =
  | 'Conflict'
  | 'AlreadyExists'
  | 'NotFound'
  | 'Gone'
  | 'BadRequest'
  | 'Invalid'
  | 'Unauthorized'
  | 'Forbidden'
  | 'TooManyRequests'
  | 'ServerError'
  | 'Unavailable'
  | 'Timeout'
  | 'Network'
  | 'Aborted'
  | 'Fenced'
  | 'Malformed'
  | 'Unknown';

export class KubeError extends EffectError {
  declare readonly code: KubeErrorCode;
  constructor(
    code: KubeErrorCode,
    message: string,
    retryable: boolean,
    /** HTTP status when the API server answered. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, retryable, options);
  }
}

/**
 * A write refused because the caller's AbortSignal was aborted before (or while)
 * it was sent: how a leader that stepped down is kept from writing (fencing).
 */
export class KubeFencedError extends KubeError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('Fenced', `${what}: refused, the write permission (AbortSignal) was withdrawn`, false, undefined, options);
  }
}

/** A response the adapter cannot use (missing fields, wrong shape). */
export class KubeMalformedError extends KubeError {
  constructor(message: string) {
    super('Malformed', message, false);
  }
}

/** A field another field manager owns that a server-side apply would change (a FieldManagerConflict cause). */
export interface FieldConflict {
  /** The other manager's name, as the cause names it (`conflict with "shard-1"`). */
  readonly manager: string;
  /** The field path, e.g. `.spec.endpoints[name="vpc-gateway-1-0"].cidr`. */
  readonly field: string;
}

/**
 * A server-side apply refused for conflicts (409 Conflict with FieldManagerConflict causes). Unlike a
 * stale resourceVersion it does not go away by reading again: the same apply conflicts until the
 * other manager gives the fields up, or the apply is forced.
 */
export class KubeApplyConflictError extends KubeError {
  constructor(
    message: string,
    readonly conflicts: readonly FieldConflict[],
    options?: { cause?: unknown },
  ) {
    super('Conflict', message, false, 409, options);
    this.name = 'KubeApplyConflictError';
  }
}

interface StatusBody {
  reason?: string;
  message?: string;
  code?: number;
  details?: { causes?: Array<{ reason?: unknown; message?: unknown; field?: unknown }> };
}

/** The FieldManagerConflict causes of a 409, [] when there are none. */
function fieldConflicts(st: StatusBody): FieldConflict[] {
  const causes = Array.isArray(st.details?.causes) ? st.details.causes : [];
  const out: FieldConflict[] = [];
  for (const c of causes) {
    if (c === null || typeof c !== 'object' || c.reason !== 'FieldManagerConflict') continue;
    const m = /^conflict with "((?:[^"\\]|\\.)*)"/.exec(typeof c.message === 'string' ? c.message : '');
    let manager: string;
    try {
      manager = m === null ? '' : (JSON.parse(`"${m[1]!}"`) as string);
    } catch {
      manager = m?.[1] ?? '';
    }
    out.push({ manager, field: typeof c.field === 'string' ? c.field : '' });
  }
  return out;
}

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return { message: body.slice(0, 500) };
    }
  }
  if (body !== null && typeof body === 'object') return body;
  return {};
}

function fromStatus(status: number, body: unknown, what: string, cause: unknown): KubeError {
  const st = parseStatus(body);
  const msg = `${what}: ${status}${st.reason ? ` ${st.reason}` : ''}${st.message ? `: ${st.message}` : ''}`;
  const opts = { cause };
  switch (status) {
    case 400:
      return new KubeError('BadRequest', msg, false, status, opts);
    case 401:
      return new KubeError('Unauthorized', msg, false, status, opts);
    case 403:
      return new KubeError('Forbidden', msg, false, status, opts);
    case 404:
      return new KubeError('NotFound', msg, false, status, opts);
    case 409: {
      if (st.reason === 'AlreadyExists') return new KubeError('AlreadyExists', msg, true, status, opts);
      const conflicts = fieldConflicts(st);
      if (conflicts.length > 0) return new KubeApplyConflictError(msg, conflicts, opts);
      return new KubeError('Conflict', msg, true, status, opts);
    }
    case 410:
      return new KubeError('Gone', msg, true, status, opts);
    case 422:
      return new KubeError('Invalid', msg, false, status, opts);
    case 429:
      return new KubeError('TooManyRequests', msg, true, status, opts);
    case 503:
      return new KubeError('Unavailable', msg, true, status, opts);
    case 504:
      return new KubeError('Timeout', msg, true, status, opts);
    default:
      return new KubeError(status >= 500 ? 'ServerError' : 'Unknown', msg, status >= 500, status, opts);
  }
}

function errName(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && 'name' in err && typeof err.name === 'string' ? err.name : undefined;
}

/**
 * Maps whatever @kubernetes/client-node (ApiException, Watch's statusCode
 * errors), undici (fetch failed, aborts) or a Status object threw to a KubeError.
 * `signal` tells an abort by the caller (Aborted) from a timeout (Timeout).
 */
export function toKubeError(err: unknown, what: string, signal?: AbortSignal): KubeError {
  if (err instanceof KubeError) return err;
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown; cause?: unknown };
    // client-node's ApiException: numeric `code` (HTTP status) and `body`.
    if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) return fromStatus(e.code, e.body, what, err);
    // client-node's Watch: Error(statusText) with `statusCode`.
    if (typeof e.statusCode === 'number') return fromStatus(e.statusCode, undefined, what, err);
  }
  const name = errName(err);
  if (name === 'AbortError' || name === 'TimeoutError') {
    if (signal?.aborted === true && errName(signal.reason) !== 'TimeoutError') {
      return new KubeError('Aborted', `${what}: aborted`, false, undefined, { cause: err });
    }
    return new KubeError('Timeout', `${what}: timed out`, true, undefined, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  const causeCode = err instanceof Error && err.cause !== null && typeof err.cause === 'object' && 'code' in err.cause ? String(err.cause.code) : undefined;
  if (err instanceof TypeError || causeCode !== undefined || /ECONNREFUSED|ECONNRESET|EPIPE|socket|terminated|other side closed/i.test(message)) {
    return new KubeError('Network', `${what}: ${causeCode ?? ''} ${message}`.replace(/\s+/g, ' ').trim(), true, undefined, { cause: err });
  }
  return new KubeError('Unknown', `${what}: ${message}`, true, undefined, { cause: err });
}

/** A metav1.Status object (watch ERROR events) as a KubeError. */
export function statusToKubeError(status: unknown, what: string): KubeError {
  const st = parseStatus(status);
  return fromStatus(typeof st.code === 'number' ? st.code : 500, status, what, undefined);
}
