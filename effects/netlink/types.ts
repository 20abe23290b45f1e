// The types the data plane's operations share (DataPlane re-exports them
// through index.ts).
import type { Entry } from './entries.js';
import type { NetlinkError } from './errors.js';

export interface WriteOptions {
  /** Once aborted, every further write is refused with NetlinkError ABORTED. */
  readonly signal?: AbortSignal;
}

/** The device the VTEP operations act on (a DeviceInfo will do). */
export interface DeviceRef {
  readonly ifindex: number;
  readonly name?: string;
}

export interface ProgramResult {
  /** Entries written (replace/append: present as wanted afterwards). */
  readonly applied: readonly Entry[];
  /** Entries of the previous spec(s) removed (those found in the kernel). */
  readonly removed: readonly Entry[];
}

export interface ReconcileResult {
  readonly added: readonly Entry[];
  readonly removed: readonly Entry[];
  readonly fixed: readonly Entry[];
  /** Entries already as wanted (untouched). */
  readonly unchanged: number;
  /** Writes the kernel refused; the rest of the reconcile went on. */
  readonly failed: ReadonlyArray<{ readonly entry: Entry; readonly op: 'add' | 'fix' | 'remove'; readonly error: NetlinkError }>;
}
