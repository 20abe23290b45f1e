// Membership for sharding (issue 17, design "Membership"): which gateways are
// alive, told through one Lease per gateway.
//
// - MemberLease: this gateway's Lease `<leaderElectionID>-member-<identity>`,
//   labelled `eks-hybrid-gateway/member-of=<leaderElectionID>`, holder = the
//   identity, times and durations as LeaseLock writes them (lease-record.ts).
//   With the Pod's uid it carries an ownerReference to the Pod, so Kubernetes'
//   garbage collector deletes it with the pod. The Lease is this gateway's
//   alone: join() takes over one of the same name (a restarted pod of the same
//   name) and rewrites its owner, label and spec. Errors are KubeErrors thrown
//   to the caller, whose policy retries.
// - Operations of one MemberLease run one at a time, in call order, and every
//   renew() called after leave() (until the next join()) is refused: a renewal
//   still in flight when the heartbeat stops lands before the delete, and none
//   can find the Lease gone and re-create it behind leave()'s back.
// - watchMembers(): list/watch of the member Leases by label (ListWatch:
//   relists, resourceVersions, backoff), keeping per identity the LOCAL time its
//   renewTime was last seen to change (client-go's observed-time rule, clock-skew
//   safe); a deleted Lease removes it. Judging expiry is the caller's.
import { performance } from 'node:perf_hooks';
import { kubeCall, type CallOptions, type KubeClients } from './client.js';
import { KubeError, KubeFencedError, toKubeError } from './errors.js';
import {
  formatMicroTime,
  LEASE_DURATION_MS_ANNOTATION,
  LEASE_GROUP,
  LEASE_VERSION,
  leaseDurationSeconds,
  leaseResource,
  leaseTimings,
  parseLeaseRecord,
  wallClockMicros,
} from './lease-record.js';
import { ListWatch, type KubeObject, type ListWatchOptions } from './list-watch.js';
import { getLease } from './other-lease.js';
import { customObjectsTarget } from './targets.js';

/** The label every member Lease of an installation carries, valued with its LEADER_ELECTION_ID. */
export const MEMBER_LABEL = 'eks-hybrid-gateway/member-of';

/** Where an installation's member Leases live, and whose they are. */
export interface MembersRef {
  readonly namespace: string;
  readonly leaderElectionID: string;
}

export function memberLeaseName(leaderElectionID: string, identity: string): string {
  return `${leaderElectionID}-member-${identity}`;
}

export function memberSelector(leaderElectionID: string): string {
  return `${MEMBER_LABEL}=${leaderElectionID}`;
}

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(?=.{0,63}$)(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export interface MemberLeaseOptions extends MembersRef {
  readonly clients: KubeClients;
  /** This gateway's identity (the pod name). */
  readonly identity: string;
  /** The Pod's uid (POD_UID): with it, the Lease is owned by the Pod. */
  readonly podUid?: string;
  /** Lease duration in ms (default 3000); the record carries whole seconds, rounded up. */
  readonly leaseDurationMs?: number;
  /** Per request (default: the lease duration, between 200 ms and 10 s). */
  readonly requestTimeoutMs?: number;
  /** Wall clock in epoch microseconds for acquireTime/renewTime. */
  readonly wallMicros?: () => number;
}

/** What renew() did: updated the Lease, or created it again (it had been deleted). */
export type MemberRenewal = 'renewed' | 'recreated';

export class MemberLease {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  private readonly leaderElectionID: string;
  private readonly clients: KubeClients;
  private readonly podUid: string | undefined;
  private readonly requestTimeoutMs: number;
  private readonly wallMicros: () => number;
  /** The Lease as our last write left it: the next renewal's base (no read before each one). */
  private last: KubeObject | undefined;
  private left = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: MemberLeaseOptions) {
    this.name = memberLeaseName(opts.leaderElectionID, opts.identity);
    // Checked here, where the message can name the value; the API server would answer 422.
    if (opts.identity === '' || !DNS_SUBDOMAIN.test(this.name)) {
      throw new Error(`MemberLease: "${this.name}" (from identity "${opts.identity}") is not a valid Lease name (lowercase DNS subdomain, at most 253 characters)`);
    }
    if (!LABEL_VALUE.test(opts.leaderElectionID)) {
      throw new Error(`MemberLease: leader election ID "${opts.leaderElectionID}" cannot be the value of label ${MEMBER_LABEL} (at most 63 characters)`);
    }
    if (opts.namespace === '') throw new Error('MemberLease: namespace is required');
    ({ leaseDurationMs: this.leaseDurationMs, requestTimeoutMs: this.requestTimeoutMs } = leaseTimings('MemberLease', opts.leaseDurationMs, opts.requestTimeoutMs));
    this.identity = opts.identity;
    this.namespace = opts.namespace;
    this.leaderElectionID = opts.leaderElectionID;
    this.clients = opts.clients;
    this.podUid = opts.podUid === '' ? undefined : opts.podUid;
    this.wallMicros = opts.wallMicros ?? wallClockMicros;
  }

  /** Creates the member Lease, or takes over the one of this name: a new membership (acquireTime now). */
  join(signal?: AbortSignal): Promise<void> {
    this.left = false;
    return this.serial(async () => {
      await this.write(undefined, true, signal);
    });
  }

  /** Moves renewTime on. A deleted Lease is created again; a 409 re-reads and tries once more. */
  renew(signal?: AbortSignal): Promise<MemberRenewal> {
    // Judged when called: a renewal asked for before leave() runs before its delete; one asked for after, never.
    if (this.left) return Promise.reject(new KubeFencedError(`renew lease ${this.namespace}/${this.name} after leave()`));
    return this.serial(async () => {
      return (await this.write(this.last, false, signal)) === 'created' ? 'recreated' : 'renewed';
    });
  }

  /** Deletes the member Lease (after any operation in flight). True when deleted, false when it was already gone. */
  leave(signal?: AbortSignal): Promise<boolean> {
    this.left = true;
    return this.serial(async () => {
      this.last = undefined;
      const what = `delete lease ${this.namespace}/${this.name}`;
      try {
        await kubeCall(what, { ...this.callOpts(signal), write: true }, (o) =>
          this.clients.custom.deleteNamespacedCustomObject({ ...leaseResource(this.namespace), name: this.name }, o),
        );
        return true;
      } catch (err) {
        const ke = toKubeError(err, what, signal);
        if (ke.code === 'NotFound') return false;
        throw ke;
      }
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private callOpts(signal?: AbortSignal): CallOptions {
    return { signal, timeoutMs: this.requestTimeoutMs };
  }

  /**
   * Writes the Lease from `base` (create when undefined, else a replace conditional on its
   * resourceVersion). AlreadyExists → read and replace; one 409 → read and replace again (or
   * create, when the read finds none). `fresh` sets acquireTime to now (a new membership); else
   * it is kept. Leases allow create-on-update, so a replace never answers 404: a deleted Lease
   * comes back from the replace itself, or, where the server holds the uid we send to it as a
   * precondition, through the 409 path.
   */
  private async write(base: KubeObject | undefined, fresh: boolean, signal: AbortSignal | undefined): Promise<'created' | 'replaced'> {
    let conflicts = 0;
    let lastErr: KubeError | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const create = base === undefined;
      const what = `${create ? 'create' : 'replace'} lease ${this.namespace}/${this.name}`;
      try {
        const body = this.body(base, fresh);
        const saved: unknown = await kubeCall(what, { ...this.callOpts(signal), write: true }, (o) =>
          create
            ? this.clients.custom.createNamespacedCustomObject({ ...leaseResource(this.namespace), body }, o)
            : this.clients.custom.replaceNamespacedCustomObject({ ...leaseResource(this.namespace), name: this.name, body }, o),
        );
        // An odd answer leaves no base: the next renewal reads first (create → AlreadyExists → read).
        this.last = saved !== null && typeof saved === 'object' && parseLeaseRecord(saved) !== undefined ? (saved as KubeObject) : undefined;
        // Leases allow create-on-update: a replace of a deleted Lease may come back as a new object.
        const recreated = !create && this.last?.metadata?.uid !== undefined && this.last.metadata.uid !== base?.metadata?.uid;
        return create || recreated ? 'created' : 'replaced';
      } catch (err) {
        const ke = toKubeError(err, what, signal);
        lastErr = ke;
        if (ke.code === 'AlreadyExists' || (ke.code === 'Conflict' && conflicts++ < 1)) base = await getLease(this.clients, this, this.callOpts(signal));
        else throw ke;
      }
    }
    throw lastErr ?? new KubeError('Unknown', `lease ${this.namespace}/${this.name}: no write attempted`, true);
  }

  private body(base: KubeObject | undefined, fresh: boolean): Record<string, unknown> {
    const now = formatMicroTime(this.wallMicros());
    const prev = base === undefined ? undefined : parseLeaseRecord(base);
    const md = (base?.metadata ?? {}) as Record<string, unknown>;
    const record = (v: unknown): Record<string, string> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {});
    const metadata: Record<string, unknown> = {
      ...md,
      name: this.name,
      namespace: this.namespace,
      labels: { ...record(md.labels), [MEMBER_LABEL]: this.leaderElectionID },
      annotations: { ...record(md.annotations), [LEASE_DURATION_MS_ANNOTATION]: String(this.leaseDurationMs) },
    };
    // Exactly our Pod: an owner left by an earlier pod of this name would have the collector delete the Lease.
    if (this.podUid !== undefined) metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Pod', name: this.identity, uid: this.podUid }];
    else delete metadata.ownerReferences;
    if (prev !== undefined) metadata.resourceVersion = prev.resourceVersion;
    else delete metadata.resourceVersion;
    return {
      apiVersion: `${LEASE_GROUP}/${LEASE_VERSION}`,
      kind: 'Lease',
      metadata,
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: leaseDurationSeconds(this.leaseDurationMs),
        acquireTime: !fresh && prev?.acquireTime !== undefined ? prev.acquireTime : now,
        renewTime: now,
      },
    };
  }
}

/** A live-looking member as this process saw it: `observedAt` is local monotonic ms (performance.now()). */
export interface MemberObservation {
  readonly identity: string;
  readonly observedAt: number;
}

export interface MemberWatchOptions extends ListWatchOptions {
  /** Local monotonic clock in ms (default performance.now). */
  readonly now?: () => number;
  /** A list/watch failure (the watch retries by itself). */
  readonly onError?: (err: KubeError) => void;
}

export interface MemberWatch {
  /** True once a complete list was applied. */
  readonly synced: boolean;
  /** The members now, by identity. */
  members(): MemberObservation[];
  stop(): Promise<void>;
}

/**
 * Watches the installation's member Leases. onChange gets every member (sorted by identity)
 * after the first complete list and whenever a member appears, renews or goes; a re-list that
 * finds nothing new calls nothing. A Lease without a holder is no member.
 */
export function watchMembers(clients: KubeClients, ref: MembersRef, onChange: (members: MemberObservation[]) => void, opts: MemberWatchOptions = {}): MemberWatch {
  const now = opts.now ?? (() => performance.now());
  // Per Lease name: its holder, the renewTime last seen, and when we saw that value first.
  const seen = new Map<string, { identity: string; renewTime: string; observedAt: number }>();
  let reported: string | undefined;
  const members = (): MemberObservation[] => {
    const byId = new Map<string, number>();
    for (const s of seen.values()) byId.set(s.identity, Math.max(byId.get(s.identity) ?? -Infinity, s.observedAt));
    return [...byId].map(([identity, observedAt]) => ({ identity, observedAt })).sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  };
  const report = (): void => {
    const list = members();
    const key = JSON.stringify(list);
    if (!lw.synced || key === reported) return;
    reported = key;
    onChange(list);
  };
  const upsert = (obj: KubeObject): void => {
    const name = obj.metadata?.name ?? '';
    const rec = parseLeaseRecord(obj);
    if (rec === undefined || rec.holderIdentity === '') {
      seen.delete(name);
    } else {
      const renewTime = rec.renewTime ?? rec.acquireTime ?? '';
      const prev = seen.get(name);
      if (prev === undefined || prev.identity !== rec.holderIdentity || prev.renewTime !== renewTime) {
        seen.set(name, { identity: rec.holderIdentity, renewTime, observedAt: now() });
      }
    }
    report();
  };
  const target = customObjectsTarget(clients, leaseResource(ref.namespace), { labelSelector: memberSelector(ref.leaderElectionID) });
  const lw = new ListWatch(
    clients,
    target,
    {
      onUpsert: upsert,
      onDelete: (obj) => {
        seen.delete(obj.metadata?.name ?? '');
        report();
      },
      onSynced: () => report(),
      onError: (err) => opts.onError?.(err),
    },
    opts,
  ).start();
  return {
    get synced() {
      return lw.synced;
    },
    members,
    stop: () => lw.stop(),
  };
}
