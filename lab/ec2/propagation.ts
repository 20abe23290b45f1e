// Route propagation: the time between EC2 accepting a route write and the
// route taking effect in the VPC's data plane. The lab's VPC router applies
// each route change of its table after a drawn delay (profile.ts: an
// assumption, no public figure), keeping the write order per destination: a
// later write to the same CIDR never takes effect before an earlier one.
import type { RouteChange } from './model.js';
import { drawDelay, type DelaySpec } from './profile.js';

export interface PropagatorOptions {
  /** false: no delay (applied as soon as the previous change of the CIDR is). */
  readonly delay: DelaySpec | false;
  /** Makes a change take effect (the lab: `ip -n <router> route replace …`). */
  readonly apply: (change: RouteChange) => Promise<void>;
  /** Epoch ms (default Date.now). */
  readonly now?: () => number;
  readonly random?: () => number;
  /** Waits ms (default setTimeout). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ScheduledRouteChange {
  readonly change: RouteChange;
  /** Epoch ms when EC2 accepted the write. */
  readonly acceptedMs: number;
  /** The drawn propagation delay, ms. */
  readonly delayMs: number;
  /** acceptedMs + delayMs: when it is due to take effect (later if an earlier write of the CIDR is still pending). */
  readonly dueMs: number;
  /** Settles once the change took effect (appliedMs) or failed to (error). */
  readonly done: Promise<{ readonly appliedMs?: number; readonly error?: string }>;
}

export interface Propagator {
  /** acceptedMs: when EC2 accepted the write (default now()). */
  schedule(change: RouteChange, acceptedMs?: number): ScheduledRouteChange;
  /** Changes scheduled and not yet settled. */
  readonly pending: number;
  /** Resolves once every change scheduled so far has settled. */
  idle(): Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createPropagator(o: PropagatorOptions): Propagator {
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const sleep = o.sleep ?? defaultSleep;
  const chains = new Map<string, Promise<unknown>>();
  const inFlight = new Set<Promise<unknown>>();
  return {
    schedule(change, acceptedMs = now()) {
      const delayMs = o.delay === false ? 0 : drawDelay(o.delay, random);
      const dueMs = acceptedMs + delayMs;
      const key = `${change.routeTableId} ${change.cidr}`;
      const previous = chains.get(key) ?? Promise.resolve();
      const done = previous.then(async () => {
        const wait = dueMs - now();
        if (wait > 0) await sleep(wait);
        try {
          await o.apply(change);
          return { appliedMs: now() };
        } catch (err) {
          return { error: (err as Error).message };
        }
      });
      chains.set(key, done);
      inFlight.add(done);
      void done.then(() => {
        inFlight.delete(done);
        if (chains.get(key) === done) chains.delete(key);
      });
      return { change, acceptedMs, delayMs, dueMs, done };
    },
    get pending() {
      return inFlight.size;
    },
    idle: () => Promise.all([...inFlight]).then(() => undefined),
  };
}
