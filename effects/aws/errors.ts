// Typed errors of the AWS adapters. `code` is AWS's own error code where there
// is one (RequestLimitExceeded, UnauthorizedOperation, InvalidRoute.NotFound,
// EKS's ResourceNotFoundException…);
// `kind` groups codes by what a caller can do about them; `retryable` is true
// only for throttling, 5xx and network failures.
import { EffectError } from '../errors.js';

export type AwsErrorKind = 'throttling' | 'server' | 'network' | 'permission' | 'not-found' | 'validation' | 'conflict' | 'other';

const THROTTLING = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'EC2ThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
  'BandwidthLimitExceeded',
]);
const SERVER = new Set(['InternalError', 'InternalFailure', 'ServiceUnavailable', 'Unavailable', 'RequestTimeout', 'RequestTimeoutException']);
const PERMISSION = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'AuthFailure',
  'Blocked',
  'OptInRequired',
  'SignatureDoesNotMatch',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'ExpiredToken',
  'RequestExpired',
]);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'TimeoutError', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

export function classifyAwsCode(code: string, httpStatus?: number): AwsErrorKind {
  if (THROTTLING.has(code)) return 'throttling';
  if (PERMISSION.has(code)) return 'permission';
  if (SERVER.has(code) || (httpStatus !== undefined && httpStatus >= 500)) return 'server';
  if (NETWORK.has(code)) return 'network';
  if (code.endsWith('.NotFound') || code === 'ResourceNotFoundException') return 'not-found';
  if (code === 'RouteAlreadyExists') return 'conflict';
  if (code.startsWith('Invalid') || code.startsWith('Missing') || code === 'UnsupportedOperation' || code === 'DryRunOperation') return 'validation';
  return 'other';
}

const RETRYABLE_KINDS: ReadonlySet<AwsErrorKind> = new Set(['throttling', 'server', 'network']);

/** A failed AWS API call, with the operation, AWS's code and message, and request id. */
export class AwsApiError extends EffectError {
  constructor(
    readonly operation: string,
    code: string,
    message: string,
    readonly kind: AwsErrorKind,
    readonly httpStatus?: number,
    readonly requestId?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, RETRYABLE_KINDS.has(kind), options);
  }
}

/** A failed EC2 API call. */
export class Ec2Error extends AwsApiError {}

/** A write refused locally because the caller's fence (AbortSignal / writeGuard) says it may no longer write. */
export class FencedError extends EffectError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('Fenced', `${what} not sent: writes are fenced (leadership lost or the caller aborted)`, false, options);
  }
}

/** Bad input given to an AWS adapter (a malformed CIDR, route table or ENI id…). */
export class AwsInputError extends EffectError {
  constructor(message: string) {
    super('InvalidInput', message, false);
  }
}

export type ImdsErrorCode = 'ImdsDisabled' | 'ImdsUnreachable' | 'ImdsTokenRefused' | 'ImdsUnauthorized' | 'ImdsNotFound' | 'ImdsHttpError' | 'ImdsMalformed' | 'NodeIpNotFound';

/** An IMDSv2 failure. Unreachable/5xx are retryable; the rest are facts about the instance or setup. */
export class ImdsError extends EffectError {
  constructor(code: ImdsErrorCode, message: string, retryable: boolean, readonly httpStatus?: number, options?: { cause?: unknown }) {
    super(code, message, retryable, options);
  }
}

interface SdkLikeError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
}

/** A failed EKS API call (doctor's DescribeCluster). */
export class EksError extends AwsApiError {}

/** Turns whatever the EKS SDK threw into an EksError (already-typed errors pass through). */
export function toEksError(operation: string, err: unknown, context?: string): EffectError {
  if (err instanceof EffectError) return err;
  const p = sdkErrorParts(operation, err, context);
  return new EksError(operation, p.code, p.message, p.kind, p.status, p.requestId, { cause: err });
}

/** Turns whatever the SDK threw into an Ec2Error (already-typed errors pass through). */
export function toEc2Error(operation: string, err: unknown, context?: string): EffectError {
  if (err instanceof EffectError) return err;
  const p = sdkErrorParts(operation, err, context);
  return new Ec2Error(operation, p.code, p.message, p.kind, p.status, p.requestId, { cause: err });
}

/** AWS's code, our kind, the HTTP status and request id of an SDK (or socket) error, and one message naming them. */
function sdkErrorParts(operation: string, err: unknown, context: string | undefined): { code: string; kind: AwsErrorKind; message: string; status: number | undefined; requestId: string | undefined } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkLikeError;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const requestId = typeof e.$metadata?.requestId === 'string' ? e.$metadata.requestId : undefined;
  // Node socket errors carry .code (ECONNREFUSED…); SDK service errors carry .name = AWS code.
  const sysCode = typeof e.code === 'string' && /^E[A-Z]+$|^UND_ERR/.test(e.code) ? e.code : undefined;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  let code = sysCode ?? name;
  if (status === undefined && sysCode === undefined && (name === 'Error' || name === 'TypeError')) code = 'NetworkError';
  const kind = code === 'NetworkError' ? 'network' : classifyAwsCode(code, status);
  const awsMessage = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  const where = context !== undefined ? ` (${context})` : '';
  const tail = requestId !== undefined ? ` [request ${requestId}]` : '';
  return { code, kind, message: `${operation}${where} failed: ${code}: ${awsMessage}${tail}`, status, requestId };
}
