// Leader election lock on a coordination.k8s.io/v1 Lease, with client-go's
// semantics (k8s.io/client-go/tools/leaderelection), as single attempts: the
// gateway statechart owns the timing (retry period, renew deadline).
//
// - tryAcquireOrRenew(): read the Lease; create it when absent; take it when
//   its holder is empty (released) or its lease expired; renew it when we hold
//   it. Writes carry the read resourceVersion (optimistic concurrency): a 409
//   means someone else wrote first: we re-read and report 'conflict', and we
//   never overwrite a record held by another live holder.
// - Expiry is judged as client-go does, from the LOCAL monotonic time at which
//   this process last saw the record change (observedAt), plus the record's
//   lease duration; never from the remote renewTime (clock-skew safe).
// - acquireTime/renewTime are RFC3339 with 6 fractional digits (MicroTime).
// - Sub-second durations: leaseDurationSeconds is an integer in the API, so the
//   record carries ceil(duration) seconds (≥ 1) — what other clients (kubectl,
//   client-go) see, always conservative — and the exact duration in
//   milliseconds in the annotation LEASE_DURATION_MS_ANNOTATION, which this
//   lock prefers when judging expiry.
// - Fencing: isHeld(now) is true only until (time the last successful write was
//   SENT + lease duration): a contender can only take over after it observed
//   that write, which is later, plus the same duration; so two holders never
//   both see isHeld() true.
// - release() clears the holder (client-go's ReleaseOnCancel) so a standby
//   acquires at once; watchLease() lets a standby react to that immediately.
// - annotate: annotations the holder adds to each write it makes as holder
//   (create, renew, take-over); the runtime records its ENI there
//   (machines/domain/cleanup.ts). A release keeps what the record has.
//
// Longer than 350 lines on purpose: it is one class whose attempt, release and
// watch share the lock's private state (the record last seen and when, the
// held-until time and its signal); the Lease's data and the attempt's result
// types are in lease-record.ts.
import { performance } from 'node:perf_hooks';
import { kubeCall, type CallOptions, type KubeClients } from './client.js';
import { KubeError, toKubeError } from './errors.js';
import {
  formatMicroTime,
  LEASE_DURATION_MS_ANNOTATION,
  LEASE_GROUP,
  LEASE_PLURAL,
  LEASE_VERSION,
  leaseDurationSeconds,
  leaseTimings,
  parseLeaseRecord,
  wallClockMicros,
  type LeaseAttempt,
  type LeaseObservation,
  type LeaseOutcome,
  type LeaseRecord,
} from './lease-record.js';
import { ListWatch, type KubeObject, type ListWatchOptions } from './list-watch.js';
import { getLease } from './other-lease.js';
import { customObjectsTarget } from './targets.js';

export interface LeaseLockOptions {
  readonly clients: KubeClients;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** Lease duration in ms (default 3000). Sub-second values work (see the header). */
  readonly leaseDurationMs?: number;
  /** Per-request timeout (default: the lease duration, capped to 10 s). */
  readonly requestTimeoutMs?: number;
  /** Local monotonic clock in ms (default performance.now). */
  readonly now?: () => number;
  /** Wall clock in epoch microseconds for acquireTime/renewTime (default from performance.timeOrigin). */
  readonly wallMicros?: () => number;
  /** Annotations to add to each create, renewal and take-over, given the record's current ones. */
  readonly annotate?: (current: Readonly<Record<string, string>>) => Readonly<Record<string, string>>;
}

/** What changed in a record for observation purposes: everything but metadata noise. */
function fingerprint(raw: KubeObject): string {
  return JSON.stringify([raw.metadata?.resourceVersion, raw.spec]);
}

export class LeaseLock {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  private readonly clients: KubeClients;
  private readonly requestTimeoutMs: number;
  private readonly now: () => number;
  private readonly wallMicros: () => number;
  private readonly annotate: (current: Readonly<Record<string, string>>) => Readonly<Record<string, string>>;

  private observedRaw: KubeObject | undefined;
  private observedFp: string | undefined;
  private observedRecord: LeaseRecord | undefined;
  private observedAt = 0;
  private heldUntilMs: number | undefined;
  private heldCtl: AbortController | undefined;
  private lapseTimer: NodeJS.Timeout | undefined;

  constructor(opts: LeaseLockOptions) {
    if (opts.identity === '') throw new Error('LeaseLock: identity must not be empty');
    if (opts.name === '' || opts.namespace === '') throw new Error('LeaseLock: name and namespace are required');
    ({ leaseDurationMs: this.leaseDurationMs, requestTimeoutMs: this.requestTimeoutMs } = leaseTimings('LeaseLock', opts.leaseDurationMs, opts.requestTimeoutMs));
    this.clients = opts.clients;
    this.identity = opts.identity;
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.now = opts.now ?? (() => performance.now());
    this.wallMicros = opts.wallMicros ?? wallClockMicros;
    this.annotate = opts.annotate ?? (() => ({}));
  }

  /** The integer leaseDurationSeconds written to the record: ceil(ms / 1000), at least 1. */
  get leaseDurationSeconds(): number {
    return leaseDurationSeconds(this.leaseDurationMs);
  }

  /** Fencing check for the leader's write path: true while our last successful write is within the lease. */
  isHeld(now: number = this.now()): boolean {
    return this.heldUntilMs !== undefined && now < this.heldUntilMs;
  }

  /** Local monotonic ms until which we hold the lease, if we do. */
  get heldUntil(): number | undefined {
    return this.heldUntilMs;
  }

  /** The last record seen (by an attempt or the watch) and when it was seen to change. */
  get observation(): LeaseObservation {
    const r = this.observedRecord;
    const free = r === undefined || r.holderIdentity === '';
    return { record: r, holder: r?.holderIdentity, free, observedAt: this.observedAt, expiresAt: free ? undefined : this.observedAt + (r.leaseDurationMs ?? this.leaseDurationMs) };
  }

  /**
   * An AbortSignal for the leader's writes: aborted the moment this lock stops holding (the
   * lease lapses locally, fence(), release(), another holder or a deletion is observed). A new
   * signal is handed out after each re-acquisition; when not holding, an aborted one.
   */
  heldSignal(): AbortSignal {
    if (this.heldCtl !== undefined && this.isHeld()) return this.heldCtl.signal;
    return AbortSignal.abort(new Error(`lease ${this.namespace}/${this.name} not held by ${this.identity}`));
  }

  private setHeldUntil(until: number | undefined): void {
    if (this.lapseTimer !== undefined) clearTimeout(this.lapseTimer);
    this.lapseTimer = undefined;
    if (until === undefined || until <= this.now()) {
      this.heldUntilMs = undefined;
      const ctl = this.heldCtl;
      this.heldCtl = undefined;
      ctl?.abort(new Error(`lease ${this.namespace}/${this.name} no longer held by ${this.identity}`));
      return;
    }
    this.heldUntilMs = until;
    this.heldCtl ??= new AbortController();
    const arm = (): void => {
      const left = (this.heldUntilMs ?? 0) - this.now();
      if (left <= 0) {
        this.setHeldUntil(undefined);
        return;
      }
      this.lapseTimer = setTimeout(arm, Math.max(1, Math.ceil(left)));
      this.lapseTimer.unref();
    };
    arm();
  }

  /** Forgets local leadership at once (e.g. the renew deadline passed): isHeld() is false from now on. */
  fence(): void {
    this.setHeldUntil(undefined);
  }

  private observe(raw: KubeObject | undefined, at: number): void {
    if (raw === undefined) {
      if (this.observedRaw !== undefined) this.observedAt = at;
      this.observedRaw = undefined;
      this.observedFp = undefined;
      this.observedRecord = undefined;
      // The Lease is gone (deleted by hand): anyone may create it now, so we stop acting as
      // leader at once rather than at the end of our last renewal.
      this.setHeldUntil(undefined);
      return;
    }
    const fp = fingerprint(raw);
    if (fp !== this.observedFp) {
      this.observedRaw = raw;
      this.observedFp = fp;
      this.observedRecord = parseLeaseRecord(raw);
      this.observedAt = at;
    }
    // Someone else's name on the record: whatever we believed, we do not hold it.
    if (this.observedRecord !== undefined && this.observedRecord.holderIdentity !== this.identity) this.setHeldUntil(undefined);
  }

  private callOpts(signal?: AbortSignal): CallOptions {
    return { signal, timeoutMs: this.requestTimeoutMs };
  }

  private read(signal?: AbortSignal): Promise<KubeObject | undefined> {
    return getLease(this.clients, this, this.callOpts(signal));
  }

  private spec(acquireMicros: string, renewMicros: string, transitions: number, holder: string): Record<string, unknown> {
    return { holderIdentity: holder, leaseDurationSeconds: this.leaseDurationSeconds, acquireTime: acquireMicros, renewTime: renewMicros, leaseTransitions: transitions };
  }

  private result(outcome: LeaseOutcome, error?: KubeError, otherExpiresAt?: number): LeaseAttempt {
    const r = this.observedRecord;
    const held = this.isHeld();
    return {
      outcome,
      held,
      holder: r?.holderIdentity,
      leaseTransitions: r?.leaseTransitions,
      heldUntil: held ? this.heldUntilMs : undefined,
      renewedAt: held && this.heldUntilMs !== undefined ? this.heldUntilMs - this.leaseDurationMs : undefined,
      otherExpiresAt,
      record: r,
      error,
    };
  }

  /**
   * One attempt to acquire or renew. Never throws: every outcome is a value. `yieldMs` (a gateway
   * that placement does not prefer for this shard): a free or expired Lease is taken only once it has
   * been so for that long, judged like expiry (from when this process saw the record change); before
   * that the attempt reports it as held, with the instant it may be taken as `otherExpiresAt`.
   */
  async tryAcquireOrRenew(signal?: AbortSignal, opts: { yieldMs?: number } = {}): Promise<LeaseAttempt> {
    if (signal?.aborted === true) {
      this.setHeldUntil(undefined);
      return this.result('fenced');
    }
    // client-go's fast path: a holder renews from the record it last saw, without reading it first.
    // A conflict (the record changed meanwhile: re-read by write()) falls through to the full path.
    const seen = this.observedRaw;
    const seenRec = this.observedRecord;
    let reread = false;
    if (this.isHeld() && seen !== undefined && seenRec !== undefined && seenRec.holderIdentity === this.identity) {
      const fast = await this.write('renew', this.renewBody(seen, seenRec, formatMicroTime(this.wallMicros())), signal, false);
      if (fast.outcome !== 'conflict') return fast;
      reread = true; // write() read the newest record after the 409
    }
    let raw: KubeObject | undefined;
    try {
      raw = reread ? this.observedRaw : await this.read(signal);
    } catch (err) {
      const ke = toKubeError(err, 'lease read', signal);
      if (ke.code === 'Aborted') {
        this.setHeldUntil(undefined);
        return this.result('fenced', ke);
      }
      return this.result('error', ke);
    }
    this.observe(raw, this.now());
    const micros = formatMicroTime(this.wallMicros());
    const yieldMs = opts.yieldMs ?? 0;
    const yieldUntil = (freeSince: number): number | undefined => (yieldMs > 0 && this.now() < freeSince + yieldMs ? freeSince + yieldMs : undefined);

    if (raw === undefined) {
      const until = yieldUntil(this.observedAt);
      if (until !== undefined) return this.result('held-by-other', undefined, until);
      const body = {
        apiVersion: `${LEASE_GROUP}/${LEASE_VERSION}`,
        kind: 'Lease',
        metadata: { name: this.name, namespace: this.namespace, annotations: { ...this.annotate({}), [LEASE_DURATION_MS_ANNOTATION]: String(this.leaseDurationMs) } },
        spec: this.spec(micros, micros, 0, this.identity),
      };
      return this.write('create', body, signal, true);
    }

    const rec = this.observedRecord;
    if (rec === undefined) {
      return this.result('error', new KubeError('Malformed', `lease ${this.namespace}/${this.name}: record without resourceVersion`, true));
    }
    const mine = rec.holderIdentity === this.identity;
    let freeSince = this.observedAt;
    const { expiresAt } = this.observation;
    if (expiresAt !== undefined && !mine) {
      if (expiresAt > this.now()) return this.result('held-by-other', undefined, expiresAt);
      freeSince = expiresAt;
    }
    const until = mine ? undefined : yieldUntil(freeSince);
    if (until !== undefined) return this.result('held-by-other', undefined, until);
    return mine ? this.write('renew', this.renewBody(raw, rec, micros), signal, false) : this.write('takeover', this.takeoverBody(raw, rec, micros), signal, false);
  }

  /** The record with our renewal, conditional on the resourceVersion it was read with. */
  private renewBody(raw: KubeObject, rec: LeaseRecord, micros: string): Record<string, unknown> {
    return this.recordBody(raw, rec, this.spec(rec.acquireTime ?? micros, micros, rec.leaseTransitions, this.identity));
  }

  private takeoverBody(raw: KubeObject, rec: LeaseRecord, micros: string): Record<string, unknown> {
    return this.recordBody(raw, rec, this.spec(micros, micros, rec.leaseTransitions + 1, this.identity));
  }

  private recordBody(raw: KubeObject, rec: LeaseRecord, spec: Record<string, unknown>): Record<string, unknown> {
    const md = (raw.metadata ?? {}) as Record<string, unknown>;
    const existing = md.annotations !== null && typeof md.annotations === 'object' && !Array.isArray(md.annotations) ? (md.annotations as Record<string, string>) : {};
    const annotations = { ...existing, ...this.annotate(existing), [LEASE_DURATION_MS_ANNOTATION]: String(this.leaseDurationMs) };
    return { ...raw, apiVersion: `${LEASE_GROUP}/${LEASE_VERSION}`, kind: 'Lease', metadata: { ...md, annotations, resourceVersion: rec.resourceVersion }, spec };
  }

  private async write(kind: 'create' | 'renew' | 'takeover', body: Record<string, unknown>, signal: AbortSignal | undefined, create: boolean): Promise<LeaseAttempt> {
    const what = `${kind} lease ${this.namespace}/${this.name}`;
    const sentAt = this.now();
    try {
      const saved: unknown = await kubeCall(what, { ...this.callOpts(signal), write: true }, (o) =>
        create
          ? this.clients.custom.createNamespacedCustomObject({ group: LEASE_GROUP, version: LEASE_VERSION, namespace: this.namespace, plural: LEASE_PLURAL, body }, o)
          : this.clients.custom.replaceNamespacedCustomObject({ group: LEASE_GROUP, version: LEASE_VERSION, namespace: this.namespace, plural: LEASE_PLURAL, name: this.name, body }, o),
      );
      if (saved !== null && typeof saved === 'object') this.observe(saved as KubeObject, this.now());
      // The write succeeded: our name is on the record (even if the response was odd).
      this.setHeldUntil(sentAt + this.leaseDurationMs);
      return this.result(kind === 'renew' ? 'renewed' : 'acquired');
    } catch (err) {
      const ke = toKubeError(err, what, signal);
      if (ke.code === 'Fenced' || ke.code === 'Aborted') {
        this.setHeldUntil(undefined);
        return this.result('fenced', ke);
      }
      if (ke.code === 'Conflict' || ke.code === 'AlreadyExists') {
        // Someone wrote first: re-read so the next attempt judges the newest record.
        try {
          this.observe(await this.read(signal), this.now());
        } catch {
          // the next attempt reads again
        }
        return this.result('conflict', ke);
      }
      // Unknown fate (timeout, 5xx, reset): the write may or may not have landed. Our local
      // validity stays what our last confirmed write gave us; the statechart's renew deadline
      // decides when to give up.
      return this.result('error', ke);
    }
  }

  /**
   * Releases the lease if the record names us: holder cleared, leaseDurationSeconds 1, times
   * set to now, transitions kept (client-go's release). Local leadership ends first (fencing).
   * Returns true when the record was released by this call.
   */
  async release(signal?: AbortSignal): Promise<boolean> {
    this.setHeldUntil(undefined);
    for (let attempt = 0; attempt < 3; attempt++) {
      let raw: KubeObject | undefined;
      try {
        raw = await this.read(signal);
      } catch {
        return false;
      }
      this.observe(raw, this.now());
      const rec = this.observedRecord;
      if (raw === undefined || rec === undefined || rec.holderIdentity !== this.identity) return false;
      const micros = formatMicroTime(this.wallMicros());
      const body = {
        ...raw,
        metadata: { ...(raw.metadata ?? {}), resourceVersion: rec.resourceVersion },
        spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: micros, renewTime: micros, leaseTransitions: rec.leaseTransitions },
      };
      try {
        const saved: unknown = await kubeCall(`release lease ${this.namespace}/${this.name}`, { ...this.callOpts(signal), write: true }, (o) =>
          this.clients.custom.replaceNamespacedCustomObject({ group: LEASE_GROUP, version: LEASE_VERSION, namespace: this.namespace, plural: LEASE_PLURAL, name: this.name, body }, o),
        );
        if (saved !== null && typeof saved === 'object') this.observe(saved as KubeObject, this.now());
        return true;
      } catch (err) {
        const ke = toKubeError(err, 'release lease', signal);
        if (ke.code !== 'Conflict') return false;
        // 409: re-read; release only if the record still names us.
      }
    }
    return false;
  }

  /**
   * Watches the Lease (list+watch on its name, restarted after errors) and reports every
   * change; a standby calls tryAcquireOrRenew() at once when `free` turns true. Observations
   * from the watch also feed this lock's expiry judgement and fencing.
   */
  watchLease(onChange: (o: LeaseObservation) => void, opts: ListWatchOptions & { onError?: (err: KubeError) => void } = {}): { stop(): Promise<void> } {
    const target = customObjectsTarget(
      this.clients,
      { group: LEASE_GROUP, version: LEASE_VERSION, plural: LEASE_PLURAL, namespace: this.namespace },
      { fieldSelector: `metadata.name=${this.name}` },
    );
    const report = (raw: KubeObject | undefined): void => {
      this.observe(raw, this.now());
      onChange(this.observation);
    };
    const lw = new ListWatch(this.clients, target, {
      onSynced: (all) => {
        if (all.length === 0) report(undefined);
      },
      onUpsert: (obj) => report(obj),
      onDelete: () => report(undefined),
      onError: (err) => opts.onError?.(err),
    }, opts).start();
    return { stop: () => lw.stop() };
  }
}
