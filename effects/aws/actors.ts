// XState actors over the AWS adapters. fromPromise hands each actor an
// AbortSignal that fires when the actor is stopped — e.g. when the gateway
// machine leaves the leader state — and that signal is the write fence.
import { fromPromise } from 'xstate';
import { ensureRoutes, type EnsureRoutesOptions, type EnsureRoutesResult } from './route-tables.js';
import { discoverInstanceIdentity, type DiscoverOptions, type InstanceIdentity } from './imds.js';
import { disableSourceDestCheck, type WriteOptions } from './eni.js';
import type { EC2Client } from '@aws-sdk/client-ec2';

/** input: EnsureRoutesOptions without signal (the actor's own signal fences it; an input signal is combined). */
export const ensureRoutesActor = fromPromise<EnsureRoutesResult, EnsureRoutesOptions>(({ input, signal }) =>
  ensureRoutes({ ...input, signal: input.signal ? AbortSignal.any([input.signal, signal]) : signal }),
);

export const discoverInstanceActor = fromPromise<InstanceIdentity, DiscoverOptions>(({ input, signal }) =>
  discoverInstanceIdentity({ ...input, signal: input.signal ? AbortSignal.any([input.signal, signal]) : signal }),
);

export const disableSourceDestCheckActor = fromPromise<void, WriteOptions & { ec2: EC2Client; networkInterfaceId: string }>(({ input, signal }) =>
  disableSourceDestCheck(input.ec2, input.networkInterfaceId, { ...input, signal: input.signal ? AbortSignal.any([input.signal, signal]) : signal }),
);
