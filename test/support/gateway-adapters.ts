// Doubles of the adapters the gateway's wiring uses (runtime/wiring/ports.ts):
// the netlink data plane, the Lease lock, the CiliumVTEPConfig client, the
// kube clients (another installation's Lease), Kubernetes Events, IMDS and
// EC2, and the clock. Each call the wiring makes is an operation that stays
// pending until the test settles it, so only the test decides what the
// kernel, the API server and EC2 answer, and when. An operation with an
// AbortSignal records the abort; the Lease and Kubernetes reads then reject
// at once, while the leader's writes (the route-table pass's EC2 requests, the
// CiliumVTEPConfig upsert) stay pending until the test lets them come back
// (`settleAborted`): an aborted request may take its time to settle, which is
// what stepping down waits for (settleWrites). An EC2 route write is sent
// without an AbortSignal (a request that left runs to its answer,
// effects/aws/fence.ts), so the double cannot see its caller give up: the
// replay marks it abandoned (`abandon`) when its route-table pass stopped.
//
// Answered at once, since they decide nothing in the gateway machine: the
// watchdog's device and rule checks (calls without a signal), the fleet's
// per-node writes, the ENI's source/destination check, Events.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { InstanceIdentity } from '../../effects/aws/index.js';
import type { KubeClients, KubeObject, LeaseLock, VtepConfigClient } from '../../effects/kube/index.js';
import type { DeviceInfo, ReconcileResult, RulePlan } from '../../effects/netlink/index.js';
import { OWNER_ANNOTATION } from '../../machines/domain/ownership.js';
import type { GatewayAdapters } from '../../runtime/wiring/ports.js';

/** What an operation is for: the gateway effect that made it. */
export type OpKind =
  | 'ensureDevice'
  | 'checkForwarding'
  | 'discoverCloud'
  | 'leaseAttempt'
  | 'checkOwnership'
  | 'programRouteTables'
  | 'writeVtepConfig'
  | 'releaseLease'
  | 'reconcileKernel';

export interface Op {
  readonly kind: OpKind;
  /** The call, e.g. "ReplaceRouteCommand" or "ensureRules". */
  readonly what: string;
  readonly input: unknown;
  aborted: boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

type LeaseAttempt = Awaited<ReturnType<LeaseLock['tryAcquireOrRenew']>>;
type LeaseObservation = LeaseLock['observation'];
type VtepUpsertResult = Awaited<ReturnType<VtepConfigClient['upsert']>>;

export interface AdapterDoubles {
  readonly adapters: GatewayAdapters;
  /** Operations neither settled nor (for reads) aborted, in call order. */
  readonly ops: Op[];
  /** Kinds whose operation saw its AbortSignal fire, in order. */
  readonly aborted: OpKind[];
  /** fence, and the Events recorded (event:<reason>), in order. */
  readonly log: string[];
  /** Lease and CiliumVTEPConfig watches open, device watchdogs running. */
  readonly watches: { lease: number; vtepConfig: number; watchdogs: number };
  /** The owner annotation each CiliumVTEPConfig upsert was allowed to replace. */
  readonly replaceableOwners: Array<string | undefined>;
  /** Pending, not aborted, of a kind. */
  pending(kind: OpKind): Op[];
  /** Aborted writes not yet come back. */
  lingering(): Op[];
  /** Lets every aborted write come back (rejected, as an aborted request does). */
  settleAborted(): void;
  /** Marks the open operations of a kind (or only those of `among`) abandoned by their caller: as aborted, for calls sent without a signal. */
  abandon(kind: OpKind, among?: readonly Op[]): void;
  /** What the lease watch sees: the Lease released, or held by another identity. */
  leaseSeen(change: { free: true } | { holder: string }): void;
  /** What the CiliumVTEPConfig watch sees (undefined: deleted). */
  vtepConfigSeen(obj: KubeObject | undefined): void;
  /**
   * For the next replay on the same machine: every call still out is rejected (so that nothing the
   * wiring tracks outlives the replay), the records are cleared, and the clock is `clock` from now on.
   */
  reset(clock: { now(): number }): void;
}

export const IDENTITY = 'gw-a';
export const PEER = 'gw-b';
export const ENI = 'eni-0123456789abcdef0';
export const IDENTITY_DOC: InstanceIdentity = {
  instanceId: 'i-0123456789abcdef0',
  region: 'eu-west-1',
  networkInterfaceId: ENI,
  macAddress: '02:00:00:00:00:01',
  nodeIP: '198.51.100.10',
  sources: { instanceId: 'imds', region: 'imds' },
};
export const DEVICE: DeviceInfo = {
  name: 'hybrid_vxlan0',
  ifindex: 7,
  mac: '02:11:22:33:44:55',
  vni: 2,
  port: 8472,
  nodeIP: '198.51.100.10',
  up: true,
  mtu: 1450,
  underlay: { name: 'eth0', ifindex: 2, mtu: 9001 },
  action: 'created',
  changes: [],
} as unknown as DeviceInfo;
export const NO_RULE_CHANGES: RulePlan = { add: [], remove: [], unchanged: 1 };
export const NOTHING_RECONCILED: ReconcileResult = { added: [], removed: [], fixed: [], unchanged: 0, failed: [] };

/** A CiliumVTEPConfig owned by another installation's Lease, and that Lease, held and fresh. */
export const OTHER_OWNER = 'other-ns/hybrid-gateway-leader';
export const OWNED_ELSEWHERE: KubeObject = { metadata: { name: 'hybrid-gateway', annotations: { [OWNER_ANNOTATION]: OTHER_OWNER } }, spec: { endpoints: [] } };

function abortError(what: string): Error {
  return Object.assign(new Error(`${what}: aborted`), { name: 'AbortError' });
}

export function adapterDoubles(initialClock: { now(): number }): AdapterDoubles {
  let clock = initialClock;
  const ops: Op[] = [];
  const aborted: OpKind[] = [];
  const log: string[] = [];
  const watches = { lease: 0, vtepConfig: 0, watchdogs: 0 };
  const replaceableOwners: Array<string | undefined> = [];
  const leaseWatchers = new Set<(o: LeaseObservation) => void>();
  const vtepWatchers = new Set<(o: KubeObject | undefined) => void>();
  let held = false;
  let heldCtl = new AbortController();

  const op = <T>(kind: OpKind, what: string, input: unknown, signal: AbortSignal | undefined, write = false): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const entry: Op = {
        kind,
        what,
        input,
        aborted: false,
        resolve: (v) => {
          ops.splice(ops.indexOf(entry), 1);
          resolve(v as T);
        },
        reject: (e) => {
          ops.splice(ops.indexOf(entry), 1);
          reject(e);
        },
      };
      ops.push(entry);
      const onAbort = (): void => {
        entry.aborted = true;
        aborted.push(kind);
        if (!write) entry.reject(abortError(what));
      };
      if (signal?.aborted === true) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });

  const observation = (o: { free: boolean; holder: string | undefined }): LeaseObservation => ({ record: undefined, holder: o.holder, free: o.free, observedAt: clock.now(), expiresAt: undefined });

  const lock: GatewayAdapters['locks'][number] = {
    identity: IDENTITY,
    get observation() {
      return observation({ free: true, holder: '' });
    },
    tryAcquireOrRenew: async (signal?: AbortSignal) => {
      const attempt = await op<LeaseAttempt>('leaseAttempt', 'tryAcquireOrRenew', undefined, signal);
      if (attempt.held) {
        held = true;
        if (heldCtl.signal.aborted) heldCtl = new AbortController();
      }
      return attempt;
    },
    release: (signal?: AbortSignal) => op<boolean>('releaseLease', 'release', undefined, signal),
    watchLease: (onChange) => {
      leaseWatchers.add(onChange);
      watches.lease += 1;
      return {
        stop: () => {
          if (leaseWatchers.delete(onChange)) watches.lease -= 1;
          return Promise.resolve();
        },
      };
    },
    fence: () => {
      log.push('fence');
      held = false;
      heldCtl.abort(new Error('fenced'));
    },
    isHeld: () => held,
    heldSignal: () => heldCtl.signal,
  };

  const vtepConfig: GatewayAdapters['vtepConfig'] = {
    name: 'hybrid-gateway',
    get: (signal?: AbortSignal) => op<KubeObject | undefined>('checkOwnership', 'get CiliumVTEPConfig', undefined, signal),
    upsert: (endpoints, signal, owner) => {
      replaceableOwners.push(owner?.replaceable);
      return op<VtepUpsertResult>('writeVtepConfig', 'upsert CiliumVTEPConfig', endpoints, signal, true);
    },
    // With more than one shard (not what the gateway walk runs): the same call, by server-side apply.
    applyEndpoints: (_manager, endpoints, signal, owner) => {
      replaceableOwners.push(owner.replaceable);
      return op<VtepUpsertResult>('writeVtepConfig', 'upsert CiliumVTEPConfig', endpoints, signal, true);
    },
    watch: (onChange) => {
      vtepWatchers.add(onChange);
      watches.vtepConfig += 1;
      // The watch's first notice is the object as it is (the leader's writer is told to skip it).
      queueMicrotask(() => {
        if (vtepWatchers.has(onChange)) onChange(undefined);
      });
      return {
        stop: () => {
          if (vtepWatchers.delete(onChange)) watches.vtepConfig -= 1;
          return Promise.resolve();
        },
      };
    },
  };

  // Another installation's Lease, read by the ownership check: held by someone and fresh.
  const clients = {
    custom: {
      getNamespacedCustomObject: () =>
        Promise.resolve({
          metadata: { name: 'hybrid-gateway-leader', namespace: 'other-ns', resourceVersion: '7' },
          spec: { holderIdentity: 'gw-x', leaseDurationSeconds: 15, renewTime: new Date().toISOString() },
        }),
    },
  } as unknown as KubeClients;

  // EC2: route-table commands are operations; the ENI's source/destination check is answered at once.
  const ec2 = {
    send: (command: { constructor: { name: string }; input: unknown }, options?: { abortSignal?: AbortSignal }) => {
      const what = command.constructor.name;
      if (what === 'DescribeNetworkInterfacesCommand') {
        return Promise.resolve({ NetworkInterfaces: [{ NetworkInterfaceId: ENI, SourceDestCheck: false }] });
      }
      return op('programRouteTables', what, command.input, options?.abortSignal, true);
    },
  } as unknown as EC2Client;

  const dp: GatewayAdapters['dp'] = {
    routeTable: 8472,
    // With a signal: the init stage; without: the watchdog, which finds the device as it left it.
    ensureDevice: (opts) => (opts.signal === undefined ? Promise.resolve({ ...DEVICE, action: 'adopted' as const }) : op<DeviceInfo>('ensureDevice', 'ensureDevice', opts, opts.signal)),
    ensureRules: (cidrs, opts = {}) => (opts.signal === undefined ? Promise.resolve(NO_RULE_CHANGES) : op<RulePlan>('ensureDevice', 'ensureRules', cidrs, opts.signal)),
    ipForwardEnabled: () => op<boolean>('checkForwarding', 'ipForwardEnabled', undefined, undefined),
    programVtep: () => Promise.resolve({} as never),
    removeVtep: () => Promise.resolve([]),
    reconcile: (_device, desired, opts = {}) => op<ReconcileResult>('reconcileKernel', 'reconcile', [...desired], opts.signal),
  };

  const adapters: GatewayAdapters = {
    dp,
    locks: [lock],
    vtepConfig,
    clients,
    events: {
      record: (_ref, _type, reason) => {
        log.push(`event:${reason}`);
        return Promise.resolve({ recorded: true } as never);
      },
    },
    cloud: { discover: (o) => op<InstanceIdentity>('discoverCloud', 'discoverInstanceIdentity', o, o.signal), ec2: () => ec2 },
    clock: {
      now: () => clock.now(),
      // The watchdog's period is not driven here: DEVICE.REPAIRED changes no gateway state.
      every: () => {
        watches.watchdogs += 1;
        return () => {
          watches.watchdogs -= 1;
        };
      },
    },
    // Fixed jitter: the model computes the same backoffs the replay waits for.
    random: () => 0.5,
  };

  return {
    adapters,
    ops,
    aborted,
    log,
    watches,
    replaceableOwners,
    pending: (kind) => ops.filter((o) => o.kind === kind && !o.aborted),
    lingering: () => ops.filter((o) => o.aborted),
    settleAborted: () => {
      for (const o of ops.filter((x) => x.aborted)) o.reject(abortError(o.what));
    },
    abandon: (kind, among) => {
      for (const o of ops.filter((x) => x.kind === kind && !x.aborted && (among === undefined || among.includes(x)))) {
        o.aborted = true;
        aborted.push(kind);
      }
    },
    leaseSeen: (change) => {
      // The watch passes on changes only: first our own hold, so the change below is one.
      for (const w of [...leaseWatchers]) {
        w(observation({ free: false, holder: IDENTITY }));
        w('free' in change ? observation({ free: true, holder: '' }) : observation({ free: false, holder: change.holder }));
      }
    },
    vtepConfigSeen: (obj) => {
      for (const w of [...vtepWatchers]) w(obj);
    },
    reset: (next) => {
      for (const o of [...ops]) o.reject(abortError(o.what));
      for (const list of [aborted, log, replaceableOwners]) list.length = 0;
      Object.assign(watches, { lease: 0, vtepConfig: 0, watchdogs: 0 });
      leaseWatchers.clear();
      vtepWatchers.clear();
      held = false;
      heldCtl = new AbortController();
      clock = next;
    },
  };
}
