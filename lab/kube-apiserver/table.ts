// meta.k8s.io/v1 Table responses (what `kubectl get` asks for with
// Accept: application/json;as=Table;v=v1;g=meta.k8s.io), so kubectl prints the
// same columns as against a real cluster (Lease: HOLDER; CiliumNode: the CRD's
// printer columns; Event: LAST SEEN TYPE REASON OBJECT MESSAGE).
import type { KObj, ResourceDef } from './resources.js';

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  description: string;
  priority?: number;
  cell(o: KObj): string | number;
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration, enough of it. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

function age(ts: unknown): string {
  if (typeof ts !== 'string') return '<unknown>';
  const t = Date.parse(ts);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(Date.now() - t);
}

function path(o: unknown, ...keys: string[]): unknown {
  let cur = o;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

function addressOfType(o: KObj, type: string): string {
  const addrs = path(o, 'spec', 'addresses');
  if (!Array.isArray(addrs)) return '';
  const a = addrs.find((x: unknown) => path(x, 'type') === type) as unknown;
  return str(path(a, 'ip'));
}

const NAME: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  cell: (o) => o.metadata?.name ?? '',
};
const AGE: Column = {
  name: 'Age',
  type: 'date',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o) => age(o.metadata?.creationTimestamp),
};

function columns(def: ResourceDef): Column[] {
  switch (def.plural) {
    case 'leases':
      return [NAME, { name: 'Holder', type: 'string', description: 'The holder of the lease.', cell: (o) => str(path(o, 'spec', 'holderIdentity')) }, AGE];
    case 'ciliumnodes':
      return [
        NAME,
        { name: 'CiliumInternalIP', type: 'string', description: 'Cilium internal IP for this node', cell: (o) => addressOfType(o, 'CiliumInternalIP') },
        { name: 'InternalIP', type: 'string', description: 'IP of the node', cell: (o) => addressOfType(o, 'InternalIP') },
        AGE,
      ];
    case 'ciliumvtepconfigs':
      // The CRD's additionalPrinterColumns: .status.endpointCount, .status.conditions[?(@.type=="Ready")].status.
      return [
        NAME,
        { name: 'Endpoints', type: 'integer', description: '', cell: (o) => { const n = path(o, 'status', 'endpointCount'); return typeof n === 'number' ? n : ''; } },
        {
          name: 'Ready',
          type: 'string',
          description: '',
          cell: (o) => {
            const conds = path(o, 'status', 'conditions');
            return Array.isArray(conds) ? str(path(conds.find((c: unknown) => path(c, 'type') === 'Ready'), 'status')) : '';
          },
        },
        AGE,
      ];
    case 'events':
      return [
        { name: 'Last Seen', type: 'string', description: 'Time of the last occurrence.', cell: (o) => age(o.lastTimestamp ?? o.eventTime ?? o.metadata?.creationTimestamp) },
        { name: 'Type', type: 'string', description: 'Type of this event.', cell: (o) => str(o.type) },
        { name: 'Reason', type: 'string', description: 'Why the action was taken.', cell: (o) => str(o.reason) },
        { name: 'Object', type: 'string', description: 'The object this Event is about.', cell: (o) => `${str(path(o, 'involvedObject', 'kind')).toLowerCase()}/${str(path(o, 'involvedObject', 'name'))}` },
        { name: 'Message', type: 'string', description: 'A human-readable description of the status of this operation.', cell: (o) => str(o.message) },
      ];
    case 'pods':
      return [NAME, { name: 'Status', type: 'string', description: 'The pod phase.', cell: (o) => str(path(o, 'status', 'phase')) || 'Pending' }, AGE];
    default:
      return [NAME, AGE];
  }
}

/** True when the Accept header asks for a meta.k8s.io Table first. */
export function wantsTable(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const first = accept.split(',')[0] ?? '';
  return /as=Table/.test(first) && /g=meta\.k8s\.io/.test(first);
}

export function toTable(def: ResourceDef, objects: KObj[], resourceVersion: string, includeObject: string | null, extraMetadata: Record<string, unknown> = {}): Record<string, unknown> {
  const cols = columns(def);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion, ...extraMetadata },
    columnDefinitions: cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority ?? 0 })),
    rows: objects.map((o) => ({
      cells: cols.map((c) => c.cell(o)),
      object:
        includeObject === 'None'
          ? undefined
          : includeObject === 'Object'
            ? o
            : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
