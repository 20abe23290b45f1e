// The write fence on the wire. A leader's EC2 write is sent with the
// caller's AbortSignal (the SDK's `abortSignal`: aborting stops waiting for
// an in-flight request and closes its connection) and carries a middleware
// on its own command that asks the fence again as the request leaves — after
// the SDK has serialised, resolved the endpoint and credentials, and signed
// it, the last moment a local check can stop it. A request the fence refuses
// there is never sent (FencedError).
//
// What fencing cannot do: recall a request EC2 has already received. An
// aborted write may still land; the caller only stops waiting for it.
import { CreateRouteCommand, ReplaceRouteCommand, type CreateRouteCommandInput, type EC2Client } from '@aws-sdk/client-ec2';
import { FencedError } from './errors.js';

export interface WriteFence {
  /** Once aborted, no write is sent and one in flight is abandoned. */
  readonly signal?: AbortSignal;
  /** The lease as the caller sees it; false = do not send. */
  readonly writeGuard?: () => boolean;
}

export function isFenced(f: WriteFence): boolean {
  return f.signal?.aborted === true || f.writeGuard?.() === false;
}

/** Last in finalizeRequest: after serialising, endpoint, credentials and signing; the request goes out next. */
const FENCE_STEP = { step: 'finalizeRequest', priority: 'low', name: 'hybridGatewayWriteFence' } as const;

export type RouteWrite = 'ReplaceRoute' | 'CreateRoute';

/**
 * One CreateRoute/ReplaceRoute, fenced on the wire. `onWire` is called when
 * the request passes the fence (an attempt: it may still fail on the network
 * or at EC2). Rejects with FencedError when the fence refused it or the
 * signal aborted it in flight; otherwise with whatever the SDK threw.
 */
export async function sendRouteWrite(ec2: EC2Client, action: RouteWrite, input: CreateRouteCommandInput, fence: WriteFence, onWire?: () => void): Promise<void> {
  const what = `${action} ${input.RouteTableId} ${input.DestinationCidrBlock}`;
  if (isFenced(fence)) throw new FencedError(what);
  const check = (): void => {
    if (isFenced(fence)) throw new FencedError(what, { cause: fence.signal?.reason });
    onWire?.();
  };
  const options = fence.signal !== undefined ? { abortSignal: fence.signal } : {};
  try {
    if (action === 'ReplaceRoute') {
      const command = new ReplaceRouteCommand(input);
      // Runs `check` (which throws to stop the request) before handing the request on.
      command.middlewareStack.add((next) => (args) => (check(), next(args)), FENCE_STEP);
      await ec2.send(command, options);
    } else {
      const command = new CreateRouteCommand(input);
      command.middlewareStack.add((next) => (args) => (check(), next(args)), FENCE_STEP);
      await ec2.send(command, options);
    }
  } catch (err) {
    if (!(err instanceof FencedError) && fence.signal?.aborted === true) throw new FencedError(what, { cause: err });
    throw err;
  }
}
