// ListWatchTargets over client-node's CustomObjectsApi (raw JSON): any
// group/version/plural outside the core group, cluster-scoped or namespaced.
import type { ConfigurationOptions } from '@kubernetes/client-node';
import type { KubeClients } from './client.js';
import { KubeMalformedError } from './errors.js';
import type { ListPage, ListWatchTarget } from './list-watch.js';

export interface GroupResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** Set for namespaced resources. */
  readonly namespace?: string;
}

export function collectionPath(r: GroupResource): string {
  return r.namespace === undefined
    ? `/apis/${r.group}/${r.version}/${r.plural}`
    : `/apis/${r.group}/${r.version}/namespaces/${encodeURIComponent(r.namespace)}/${r.plural}`;
}

/** Reads a list response defensively: a list without items or resourceVersion is an error, not a crash. */
export function toListPage(raw: unknown, what: string): ListPage {
  if (raw === null || typeof raw !== 'object') throw new KubeMalformedError(`${what}: list response is not an object`);
  const o = raw as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
  const items = o.items ?? [];
  if (!Array.isArray(items)) throw new KubeMalformedError(`${what}: list response items is not an array`);
  const rv = o.metadata?.resourceVersion;
  if (typeof rv !== 'string' || rv === '') throw new KubeMalformedError(`${what}: list response without metadata.resourceVersion`);
  const cont = o.metadata?.continue;
  return { items, resourceVersion: rv, continueToken: typeof cont === 'string' && cont !== '' ? cont : undefined };
}

export function customObjectsTarget(clients: KubeClients, r: GroupResource, selectors: { labelSelector?: string; fieldSelector?: string } = {}): ListWatchTarget {
  const what = r.namespace === undefined ? `${r.plural}.${r.group}` : `${r.plural}.${r.group} in ${r.namespace}`;
  return {
    what,
    path: collectionPath(r),
    labelSelector: selectors.labelSelector,
    fieldSelector: selectors.fieldSelector,
    async list(q, options: ConfigurationOptions): Promise<ListPage> {
      const common = {
        group: r.group,
        version: r.version,
        plural: r.plural,
        labelSelector: q.labelSelector,
        fieldSelector: q.fieldSelector,
        limit: q.limit,
        _continue: q.continueToken,
      };
      const raw: unknown =
        r.namespace === undefined
          ? await clients.custom.listClusterCustomObject(common, options)
          : await clients.custom.listNamespacedCustomObject({ ...common, namespace: r.namespace }, options);
      return toListPage(raw, what);
    },
  };
}
