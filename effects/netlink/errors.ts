// Typed errors of the netlink adapter. The `netlink` package reports a kernel
// refusal only as text ("Request rejected: EEXIST"), so the errno name is read
// back out of the message; every other failure (timeout, closed socket, fenced
// write, bad input) gets a code of its own. `retryable` states a fact about the
// failure (transient kernel condition or not); the caller picks the policy.
import { EffectError } from '../errors.js';

/** errno names the kernel answers rtnetlink requests with, plus adapter codes. */
export type NetlinkErrorCode =
  | 'EEXIST'
  | 'ENOENT'
  | 'EPERM'
  | 'EACCES'
  | 'ENODEV'
  | 'EINVAL'
  | 'ESRCH'
  | 'EBUSY'
  | 'EAGAIN'
  | 'EINTR'
  | 'ENOMEM'
  | 'ENOBUFS'
  | 'ENETUNREACH'
  | 'ENETDOWN'
  | 'EADDRNOTAVAIL'
  | 'EADDRINUSE'
  | 'EOPNOTSUPP'
  | 'ERANGE'
  | 'EAFNOSUPPORT'
  | 'EMSGSIZE'
  /** No reply from the kernel within the request timeout. */
  | 'ETIMEDOUT'
  /** The write was refused because the caller's AbortSignal fired (fencing). */
  | 'ABORTED'
  /** The data plane was closed. */
  | 'CLOSED'
  /** The caller passed something malformed (bad IP, MAC, CIDR, VNI…). */
  | 'BAD_INPUT'
  /** The kernel answered with something this adapter cannot interpret. */
  | 'BAD_REPLY'
  /** An errno this adapter has no name for (the number is in the message). */
  | 'UNKNOWN';

const KNOWN = new Set<string>([
  'EEXIST', 'ENOENT', 'EPERM', 'EACCES', 'ENODEV', 'EINVAL', 'ESRCH', 'EBUSY', 'EAGAIN', 'EINTR', 'ENOMEM',
  'ENOBUFS', 'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL', 'EADDRINUSE', 'EOPNOTSUPP', 'ERANGE', 'EAFNOSUPPORT', 'EMSGSIZE',
  'ETIMEDOUT',
]);

/** Transient conditions: the same request may well succeed a moment later. */
/** A garbled reply (BAD_REPLY) comes from replies interleaving after a timeout: also transient. */
const RETRYABLE = new Set<NetlinkErrorCode>(['EBUSY', 'EAGAIN', 'EINTR', 'ENOMEM', 'ENOBUFS', 'ETIMEDOUT', 'BAD_REPLY']);

export class NetlinkError extends EffectError {
  declare readonly code: NetlinkErrorCode;
  /** What the adapter was doing, e.g. "add route 198.18.3.0/24 via 198.18.2.2". */
  readonly op: string;

  constructor(code: NetlinkErrorCode, op: string, detail?: string, options?: { cause?: unknown }) {
    super(code, `${op}: ${detail ?? code}`, RETRYABLE.has(code), options);
    this.op = op;
  }
}

export function isNetlinkError(err: unknown, ...codes: NetlinkErrorCode[]): err is NetlinkError {
  return err instanceof NetlinkError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * Turns whatever the `netlink` package (or the native socket) threw into a
 * NetlinkError. Kernel refusals arrive as Error("Request rejected: ENOENT");
 * send failures as errno exceptions with a `code`; timeouts as
 * Error("Timeout has been reached").
 */
export function toNetlinkError(err: unknown, op: string): NetlinkError {
  if (err instanceof NetlinkError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const sysCode = typeof err === 'object' && err !== null && 'code' in err ? (err).code : undefined;
  let code: NetlinkErrorCode = 'UNKNOWN';
  const rejected = /Request rejected: (E[A-Z0-9]+|-?\d+)/.exec(message);
  if (rejected?.[1] !== undefined && KNOWN.has(rejected[1])) code = rejected[1] as NetlinkErrorCode;
  else if (typeof sysCode === 'string' && KNOWN.has(sysCode)) code = sysCode as NetlinkErrorCode;
  else if (/Timeout has been reached/.test(message)) code = 'ETIMEDOUT';
  else if (/Multipart message not terminated|Unexpected .* message received/.test(message)) code = 'BAD_REPLY';
  else if (/closed|not open|bad file descriptor/i.test(message)) code = 'CLOSED';
  const detail = code === 'UNKNOWN' || code === 'BAD_REPLY' ? message : `${code} (${message})`;
  return new NetlinkError(code, op, detail, { cause: err });
}

export function badInput(op: string, detail: string): NetlinkError {
  return new NetlinkError('BAD_INPUT', op, detail);
}
