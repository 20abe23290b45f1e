// What a set of Kubernetes API requests needs from RBAC, and whether a chart's
// roles grant exactly that. Pure (no I/O): used by test/chart/rbac-use.test.ts
// with the lab's request records and `helm template` output, unit-tested in
// test/chart/rbac-model.test.ts.
//
// The request side follows the API server's RequestInfoFactory
// (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go): the verb from the
// method (GET/HEAD on a collection: list, or watch with ?watch=true|1; POST
// create, PUT update, PATCH patch, DELETE delete, on a collection
// deletecollection), `/watch/` path prefix, namespace and subresource from the
// path, and for list/watch the name from `fieldSelector=metadata.name=<name>`
// (that is why RBAC can limit a list or watch by resourceNames). The grant side
// follows the RBAC authorizer (k8s.io/kubernetes/pkg/apis/rbac/v1 helpers,
// RuleAllows): a Role applies only to requests in its RoleBinding's namespace,
// a ClusterRole through a ClusterRoleBinding to every namespace and to
// cluster-scoped requests; resources of a subresource request are matched as
// `resource/subresource`; resourceNames never match a request without a name
// (create, a list without the field selector).

/** What the lab's Kubernetes stand-in records of one request (lab/kube-apiserver/server.ts RequestRecord). */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** The query string without "?". */
  readonly query: string;
  readonly remoteAddress?: string;
  readonly status?: number;
}

export interface ResourceAttributes {
  readonly resourceRequest: true;
  readonly verb: string;
  readonly apiGroup: string;
  readonly apiVersion: string;
  readonly resource: string;
  /** "" when none. */
  readonly subresource: string;
  /** "" for a cluster-scoped request (a cluster-scoped object, or a namespaced resource across all namespaces). */
  readonly namespace: string;
  /** "" when none (create, a list/watch without a metadata.name field selector). */
  readonly name: string;
}

export interface NonResourceAttributes {
  readonly resourceRequest: false;
  readonly verb: string;
  readonly path: string;
}

export type RequestAttributes = ResourceAttributes | NonResourceAttributes;

const VERB_OF_METHOD: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
// Namespace subresources: /api/v1/namespaces/<ns>/status is the Namespace's own status, not a resource "status" in it.
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** The name a field selector requires exactly (`metadata.name=x` or `metadata.name==x` among its terms), else "". */
export function exactNameOf(fieldSelector: string | null): string {
  if (fieldSelector === null) return '';
  for (const term of fieldSelector.split(',')) {
    const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(term);
    if (m !== null) return m[1]!;
  }
  return '';
}

/** The authorization attributes of one request, as the API server derives them from method, path and query. */
export function requestAttributes(r: Pick<RecordedRequest, 'method' | 'path' | 'query'>): RequestAttributes {
  const method = r.method.toUpperCase();
  const verbOfMethod = VERB_OF_METHOD[method] ?? method.toLowerCase();
  const parts = r.path.split('/').filter((s) => s !== '');
  const nonResource: NonResourceAttributes = { resourceRequest: false, verb: method === 'HEAD' ? 'get' : method.toLowerCase(), path: r.path };
  let apiGroup: string;
  let apiVersion: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    apiGroup = '';
    apiVersion = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    apiGroup = parts[1]!;
    apiVersion = parts[2]!;
    rest = parts.slice(3);
  } else return nonResource; // /api, /api/v1, /apis/<group>/<version> (discovery), /version, /healthz …
  let verb = verbOfMethod;
  if (rest[0] === 'watch') {
    verb = 'watch';
    rest = rest.slice(1);
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1]!;
    // /namespaces/<ns> and /namespaces/<ns>/status name the Namespace itself.
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  const resource = rest[0] ?? '';
  let name = rest[1] ?? '';
  const subresource = rest[2] ?? '';
  const q = new URLSearchParams(r.query);
  if (name === '' && verb === 'get') {
    const w = q.get('watch');
    verb = w !== null && w.toLowerCase() !== '0' && w.toLowerCase() !== 'false' ? 'watch' : 'list';
  }
  if (name === '' && (verb === 'list' || verb === 'watch')) name = exactNameOf(q.get('fieldSelector'));
  if (name === '' && verb === 'delete') verb = 'deletecollection';
  return { resourceRequest: true, verb, apiGroup, apiVersion, resource, subresource, namespace, name };
}

// ---------------------------------------------------------------- roles

export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly verbs: readonly string[];
}

/** A rule as it applies to one subject: where (namespace of the binding, or everywhere) and from which role. */
export interface Grant {
  /** "Role kube-system/x", "ClusterRole x" (through a ClusterRoleBinding or a RoleBinding). */
  readonly role: string;
  readonly roleKind: 'Role' | 'ClusterRole';
  /** The binding's namespace; undefined: every namespace and cluster-scoped requests (ClusterRoleBinding). */
  readonly namespace: string | undefined;
  readonly ruleIndex: number;
  readonly rule: PolicyRule;
}

interface Doc {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [k: string]: unknown;
}

interface RoleRef {
  readonly kind: string;
  readonly name: string;
}
interface Subject {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/**
 * Every rule that applies to the ServiceAccount, from rendered manifests: Roles and ClusterRoles
 * reached through RoleBindings and ClusterRoleBindings naming it. A binding to a role the
 * manifests do not hold is an error (the test could not see its rules).
 */
export function grantsFor(docs: readonly Doc[], serviceAccount: { namespace: string; name: string }): Grant[] {
  const roles = new Map<string, Doc>();
  for (const d of docs) if (d.kind === 'Role' || d.kind === 'ClusterRole') roles.set(`${d.kind}/${d.kind === 'Role' ? (d.metadata.namespace ?? '') : ''}/${d.metadata.name}`, d);
  const out: Grant[] = [];
  for (const b of docs) {
    if (b.kind !== 'RoleBinding' && b.kind !== 'ClusterRoleBinding') continue;
    const subjects = (b.subjects ?? []) as readonly Subject[];
    const bindingNs = b.kind === 'RoleBinding' ? (b.metadata.namespace ?? '') : undefined;
    // A ServiceAccount subject without a namespace is invalid in a ClusterRoleBinding; in a RoleBinding it means the binding's.
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount.name && (s.namespace ?? bindingNs) === serviceAccount.namespace)) continue;
    const ref = b.roleRef as RoleRef;
    if (b.kind === 'ClusterRoleBinding' && ref.kind !== 'ClusterRole') throw new Error(`${b.kind} ${b.metadata.name} refers to a ${ref.kind}`);
    const key = ref.kind === 'Role' ? `Role/${bindingNs ?? ''}/${ref.name}` : `ClusterRole//${ref.name}`;
    const role = roles.get(key);
    if (role === undefined) throw new Error(`${b.kind} ${b.metadata.namespace ?? ''}/${b.metadata.name} refers to ${ref.kind} ${ref.name}, not among the manifests`);
    const rules = (role.rules ?? []) as readonly PolicyRule[];
    const label = ref.kind === 'Role' ? `Role ${bindingNs}/${ref.name}` : `ClusterRole ${ref.name}`;
    rules.forEach((rule, ruleIndex) => out.push({ role: label, roleKind: ref.kind as 'Role' | 'ClusterRole', namespace: bindingNs, ruleIndex, rule }));
  }
  return out;
}

/**
 * What a cluster grants every authenticated user by default (kubeadm/EKS bootstrap policy:
 * system:discovery, system:public-info-viewer, system:basic-user): the gateway may use these
 * without the chart granting them. They are never reported as unused.
 */
export const DEFAULT_AUTHENTICATED_GRANTS: readonly Grant[] = [
  {
    role: 'ClusterRole system:discovery + system:public-info-viewer (default)',
    roleKind: 'ClusterRole',
    namespace: undefined,
    ruleIndex: 0,
    rule: { nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'], verbs: ['get'] },
  },
  {
    role: 'ClusterRole system:basic-user (default)',
    roleKind: 'ClusterRole',
    namespace: undefined,
    ruleIndex: 0,
    rule: { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
  },
  {
    role: 'ClusterRole system:basic-user (default)',
    roleKind: 'ClusterRole',
    namespace: undefined,
    ruleIndex: 1,
    rule: { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
  },
];

const has = (list: readonly string[] | undefined, v: string): boolean => (list ?? []).some((x) => x === '*' || x === v);

/** Does this rule allow the request? (RuleAllows, leaving out where the rule applies: see `allows`.) */
export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) {
    return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.slice(0, -1))));
  }
  if (!has(rule.apiGroups, a.apiGroup)) return false;
  const combined = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  const resourceOk = (rule.resources ?? []).some((r) => r === '*' || r === combined || (a.subresource !== '' && r === `*/${a.subresource}`));
  if (!resourceOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(a.name);
}

/** Does this grant allow the request, where it applies (a Role only in its binding's namespace; non-resource URLs only cluster-wide)? */
export function grantAllows(g: Grant, a: RequestAttributes): boolean {
  if (g.namespace !== undefined) {
    if (!a.resourceRequest || a.namespace !== g.namespace) return false;
  }
  return ruleAllows(g.rule, a);
}

// ---------------------------------------------------------------- comparison

/** One distinct request shape that was used, with how often and by whom. */
export interface Use {
  readonly attrs: RequestAttributes;
  readonly count: number;
  /** Who sent it (e.g. gateway names), sorted. */
  readonly by: readonly string[];
  /** One recorded example: "PUT /apis/… ?query". */
  readonly example: string;
}

/** A rule cut to one group, resource, verb and (when the rule names any) one resourceName: the unit "granted" is counted in. */
export interface GrantItem {
  readonly grant: Grant;
  readonly apiGroup: string;
  /** As the rule spells it, e.g. "ciliumvtepconfigs" or "ciliumvtepconfigs/status"; or a non-resource URL. */
  readonly resource: string;
  readonly verb: string;
  /** undefined: the rule names no resources (any name). */
  readonly resourceName: string | undefined;
  readonly nonResource: boolean;
}

export interface RbacComparison {
  readonly uses: readonly Use[];
  /** Used but allowed by nothing the chart (or the cluster's defaults) grants: the gateway would get 403. */
  readonly denied: readonly Use[];
  /** Granted by the chart, never exercised. */
  readonly unused: readonly GrantItem[];
  /**
   * Cluster-wide (ClusterRoleBinding) grants of namespaced resources whose every use a namespaced
   * Role already allows: they should be Role grants (or go).
   */
  readonly broaderThanUsed: readonly GrantItem[];
}

/** Groups recorded requests by their authorization attributes; `who` names the sender of each (undefined: not counted). */
export function usesOf(requests: readonly RecordedRequest[], who: (r: RecordedRequest) => string | undefined): Use[] {
  const byKey = new Map<string, { attrs: RequestAttributes; count: number; by: Set<string>; example: string }>();
  for (const r of requests) {
    const sender = who(r);
    if (sender === undefined) continue;
    const attrs = requestAttributes(r);
    const key = useKey(attrs);
    let u = byKey.get(key);
    if (u === undefined) {
      u = { attrs, count: 0, by: new Set(), example: `${r.method} ${r.path}${r.query === '' ? '' : `?${r.query}`}` };
      byKey.set(key, u);
    }
    u.count += 1;
    u.by.add(sender);
  }
  return [...byKey.values()].map((u) => ({ attrs: u.attrs, count: u.count, by: [...u.by].sort(), example: u.example })).sort((x, y) => (useKey(x.attrs) < useKey(y.attrs) ? -1 : 1));
}

export function useKey(a: RequestAttributes): string {
  return a.resourceRequest ? [a.apiGroup, a.resource, a.subresource, a.verb, a.namespace, a.name].join(' ') : `nonResource ${a.verb} ${a.path}`;
}

/** Splits every rule into its items (group × resource × verb × resourceName; non-resource URL × verb). */
export function grantItems(grants: readonly Grant[]): GrantItem[] {
  const out: GrantItem[] = [];
  for (const grant of grants) {
    const r = grant.rule;
    for (const verb of r.verbs) {
      for (const url of r.nonResourceURLs ?? []) out.push({ grant, apiGroup: '', resource: url, verb, resourceName: undefined, nonResource: true });
      const names: ReadonlyArray<string | undefined> = (r.resourceNames ?? []).length > 0 ? r.resourceNames! : [undefined];
      for (const apiGroup of r.apiGroups ?? []) {
        for (const resource of r.resources ?? []) for (const resourceName of names) out.push({ grant, apiGroup, resource, verb, resourceName, nonResource: false });
      }
    }
  }
  return out;
}

/** The grant cut down to one item (same place, one rule of one group/resource/verb/name). */
function itemGrant(i: GrantItem): Grant {
  const rule: PolicyRule = i.nonResource
    ? { nonResourceURLs: [i.resource], verbs: [i.verb] }
    : { apiGroups: [i.apiGroup], resources: [i.resource], verbs: [i.verb], ...(i.resourceName !== undefined ? { resourceNames: [i.resourceName] } : {}) };
  return { ...i.grant, rule };
}

/**
 * Compares what was used with what is granted. `granted` are the chart's grants for the
 * gateway's ServiceAccount; `defaults` what every authenticated user has anyway.
 */
export function compareRbac(uses: readonly Use[], granted: readonly Grant[], defaults: readonly Grant[] = DEFAULT_AUTHENTICATED_GRANTS): RbacComparison {
  const all = [...granted, ...defaults];
  const denied = uses.filter((u) => !all.some((g) => grantAllows(g, u.attrs)));
  const items = grantItems(granted);
  const unused: GrantItem[] = [];
  const broaderThanUsed: GrantItem[] = [];
  const roleGrants = granted.filter((g) => g.namespace !== undefined);
  for (const item of items) {
    const g = itemGrant(item);
    const served = uses.filter((u) => grantAllows(g, u.attrs));
    if (served.length === 0) {
      unused.push(item);
      continue;
    }
    // A cluster-wide grant must be needed cluster-wide: for a cluster-scoped object, or a namespace no Role reaches.
    if (item.grant.namespace === undefined && !item.nonResource) {
      const needsClusterWide = served.some((u) => !u.attrs.resourceRequest || u.attrs.namespace === '' || !roleGrants.some((rg) => grantAllows(rg, u.attrs)));
      if (!needsClusterWide) broaderThanUsed.push(item);
    }
  }
  return { uses, denied, unused, broaderThanUsed };
}

// ---------------------------------------------------------------- reporting

export function describeAttrs(a: RequestAttributes): string {
  if (!a.resourceRequest) return `${a.verb} ${a.path} (non-resource)`;
  const res = `${a.apiGroup === '' ? 'core' : a.apiGroup}/${a.resource}${a.subresource === '' ? '' : `/${a.subresource}`}`;
  const where = a.namespace === '' ? 'cluster-scoped' : `namespace ${a.namespace}`;
  return `${a.verb} ${res}${a.name === '' ? '' : ` "${a.name}"`} (${where})`;
}

export function describeItem(i: GrantItem): string {
  const where = i.grant.namespace === undefined ? 'cluster-wide' : `in ${i.grant.namespace}`;
  if (i.nonResource) return `${i.grant.role} rule ${i.grant.ruleIndex}: ${i.verb} ${i.resource} (${where})`;
  return `${i.grant.role} rule ${i.grant.ruleIndex}: ${i.verb} ${i.apiGroup === '' ? 'core' : i.apiGroup}/${i.resource}${i.resourceName === undefined ? '' : ` "${i.resourceName}"`} (${where})`;
}

/** A table of the uses, one line each: verb, resource, scope, name, count, senders, an example. */
export function formatUses(uses: readonly Use[]): string {
  return uses.map((u) => `${describeAttrs(u.attrs).padEnd(78)} ×${String(u.count).padEnd(5)} by ${u.by.join(',').padEnd(10)} e.g. ${u.example}`).join('\n');
}
