// The write fence on the wire. A leader's EC2 write carries a middleware on
// its own command that asks the fence again as the request leaves — after
// the SDK has serialised, resolved the endpoint and credentials, and signed
// it, the last moment a local check can stop it. A request the fence refuses
// there is never sent (FencedError). Once the caller's AbortSignal fires, the
// caller stops waiting (FencedError at once).
//
// What fencing cannot do: recall a request EC2 has already received. An
// abandoned write may still land, so it is not cut off: the request runs to
// its answer (bounded by the SDK's request timeout) and stays in the
// caller's WritesOnWire until then. Stepping down waits on that set before
// releasing the Lease, so a write this leader sent lands while the Lease
// still names it, not after a successor may have written.
import { CreateRouteCommand, ReplaceRouteCommand, type CreateRouteCommandInput, type EC2Client } from '@aws-sdk/client-ec2';
import { FencedError } from './errors.js';

export interface WriteFence {
  /** Once aborted, no write is sent and one in flight is abandoned. */
  readonly signal?: AbortSignal;
  /** The lease as the caller sees it; false = do not send. */
  readonly writeGuard?: () => boolean;
  /** Every request sent is added here until EC2 answered it (or it failed), abandoned or not. */
  readonly onWire?: WritesOnWire;
}

/** Requests sent and not yet answered, abandoned ones included: what a leader stepping down waits for. */
export class WritesOnWire {
  private readonly open = new Set<Promise<unknown>>();

  add(request: Promise<unknown>): void {
    this.open.add(request);
    const done = (): void => void this.open.delete(request);
    request.then(done, done);
  }

  get size(): number {
    return this.open.size;
  }

  /** Resolves once every request open now has its answer (never rejects). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.open]);
  }
}

/** Rejects with FencedError once `signal` aborts, else follows `request`. */
function untilAborted<T>(request: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return request;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new FencedError(what, { cause: signal.reason }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    request.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function isFenced(f: WriteFence): boolean {
  return f.signal?.aborted === true || f.writeGuard?.() === false;
}

/** Last in finalizeRequest: after serialising, endpoint, credentials and signing; the request goes out next. */
const FENCE_STEP = { step: 'finalizeRequest', priority: 'low', name: 'hybridGatewayWriteFence' } as const;

export type RouteWrite = 'ReplaceRoute' | 'CreateRoute';

/**
 * One CreateRoute/ReplaceRoute, fenced on the wire. `onSent` is called when
 * the request passes the fence (an attempt: it may still fail on the network
 * or at EC2). Rejects with FencedError when the fence refused it or the
 * signal fired while it was in flight (the request itself goes on, in
 * `fence.onWire`); otherwise with whatever the SDK threw.
 */
export async function sendRouteWrite(ec2: EC2Client, action: RouteWrite, input: CreateRouteCommandInput, fence: WriteFence, onSent?: () => void): Promise<void> {
  const what = `${action} ${input.RouteTableId} ${input.DestinationCidrBlock}`;
  if (isFenced(fence)) throw new FencedError(what);
  const check = (): void => {
    if (isFenced(fence)) throw new FencedError(what, { cause: fence.signal?.reason });
    onSent?.();
  };
  // Runs `check` (which throws to stop the request) before handing the request on.
  // No abortSignal for the SDK: a request that left is not cut off (see the head of this file).
  let request: Promise<unknown>;
  if (action === 'ReplaceRoute') {
    const command = new ReplaceRouteCommand(input);
    command.middlewareStack.add((next) => (args) => (check(), next(args)), FENCE_STEP);
    request = ec2.send(command);
  } else {
    const command = new CreateRouteCommand(input);
    command.middlewareStack.add((next) => (args) => (check(), next(args)), FENCE_STEP);
    request = ec2.send(command);
  }
  fence.onWire?.add(request);
  await untilAborted(request, fence.signal, what);
}
