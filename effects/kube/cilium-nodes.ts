// CiliumNode informer: list + watch of cilium.io/v2 ciliumnodes (cluster-scoped)
// labelled eks.amazonaws.com/compute-type=hybrid, over ListWatch (re-list on
// 410, restart with backoff after any error, bookmarks). Hands out raw objects:
// validating them is the pure core's job (machines/domain/cilium-node.ts).
// A node leaves the cache only on a confirmed DELETED event (including leaving
// the label selector) or when a complete re-list no longer has it.
import type { KubeClients } from './client.js';
import type { KubeError } from './errors.js';
import { ListWatch, type KubeObject, type ListWatchOptions } from './list-watch.js';
import { customObjectsTarget } from './targets.js';

export const CILIUM_NODE_GROUP = 'cilium.io';
export const CILIUM_NODE_VERSION = 'v2';
export const CILIUM_NODE_PLURAL = 'ciliumnodes';
export const HYBRID_NODE_SELECTOR = 'eks.amazonaws.com/compute-type=hybrid';

export interface CiliumNodeHandlers {
  /** After each complete (re-)list: every node in the cache (raw). */
  synced?(all: KubeObject[]): void;
  /** A node was added or changed. */
  upsert?(node: KubeObject): void;
  /** A node is confirmed gone (or no longer matches the selector). */
  delete?(node: KubeObject): void;
  /** An object the informer could not even key (no metadata.name): skipped. */
  malformed?(raw: unknown, why: string): void;
  /** A list/watch failure; the informer retries by itself after `retryInMs`. */
  error?(err: KubeError, info: { phase: 'list' | 'watch'; failures: number; retryInMs: number }): void;
}

export interface CiliumNodeInformerOptions extends ListWatchOptions {
  /** Default eks.amazonaws.com/compute-type=hybrid. */
  labelSelector?: string;
}

export interface CiliumNodeInformer {
  /** True once a complete list was applied. */
  readonly synced: boolean;
  /** The cached nodes' identities (name, resourceVersion, uid). */
  list(): KubeObject[];
  get(name: string): KubeObject | undefined;
  stop(): Promise<void>;
}

/**
 * What the informer's cache keeps of a CiliumNode: its identity, for deletes,
 * re-list diffs and Events (the uid). The handlers get whole nodes and the
 * desired set takes what it needs from them, so 20,000 cached nodes cost a
 * few bytes each instead of whole objects (real ones carry IPAM pools,
 * health, encryption and status).
 */
export function ciliumNodeIdentity(obj: KubeObject): KubeObject {
  const md = obj.metadata ?? {};
  return { metadata: { name: md.name, resourceVersion: md.resourceVersion, uid: md.uid } };
}

export function startCiliumNodeInformer(clients: KubeClients, handlers: CiliumNodeHandlers, opts: CiliumNodeInformerOptions = {}): CiliumNodeInformer {
  const target = customObjectsTarget(
    clients,
    { group: CILIUM_NODE_GROUP, version: CILIUM_NODE_VERSION, plural: CILIUM_NODE_PLURAL },
    { labelSelector: opts.labelSelector ?? HYBRID_NODE_SELECTOR },
  );
  const lw = new ListWatch(
    clients,
    target,
    {
      onSynced: (all) => handlers.synced?.(all),
      onUpsert: (obj) => handlers.upsert?.(obj),
      onDelete: (obj) => handlers.delete?.(obj),
      onMalformed: (raw, why) => handlers.malformed?.(raw, why),
      onError: (err, info) => handlers.error?.(err, info),
    },
    { keep: ciliumNodeIdentity, ...opts },
  ).start();
  return {
    get synced() {
      return lw.synced;
    },
    list: () => lw.list(),
    get: (name) => lw.get(name),
    stop: () => lw.stop(),
  };
}
