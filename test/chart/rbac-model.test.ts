// The pure RBAC model of test/support/rbac-use.ts (no root, no helm): request
// attributes as the API server derives them, rules as the RBAC authorizer
// applies them, and the used-versus-granted comparison.
import { describe, expect, it } from 'vitest';
import {
  compareRbac,
  describeItem,
  exactNameOf,
  grantAllows,
  grantsFor,
  requestAttributes,
  ruleAllows,
  usesOf,
  type Grant,
  type RecordedRequest,
} from '../support/rbac-use.js';

const attrs = (method: string, path: string, query = '') => requestAttributes({ method, path, query });
const res = (verb: string, apiGroup: string, resource: string, namespace = '', name = '', subresource = '') => ({
  resourceRequest: true,
  verb,
  apiGroup,
  resource,
  subresource,
  namespace,
  name,
});

describe('request attributes (the API server’s RequestInfo)', () => {
  it('verbs from the method; list or watch for a collection GET; deletecollection', () => {
    expect(attrs('POST', '/api/v1/namespaces/kube-system/events')).toMatchObject(res('create', '', 'events', 'kube-system'));
    expect(attrs('PUT', '/api/v1/namespaces/kube-system/events/gw-a.1')).toMatchObject(res('update', '', 'events', 'kube-system', 'gw-a.1'));
    expect(attrs('PATCH', '/apis/cilium.io/v2/ciliumvtepconfigs/hybrid-gateway')).toMatchObject(res('patch', 'cilium.io', 'ciliumvtepconfigs', '', 'hybrid-gateway'));
    expect(attrs('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l')).toMatchObject(res('get', 'coordination.k8s.io', 'leases', 'kube-system', 'l'));
    expect(attrs('HEAD', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l')).toMatchObject(res('get', 'coordination.k8s.io', 'leases', 'kube-system', 'l'));
    expect(attrs('GET', '/apis/cilium.io/v2/ciliumnodes', 'labelSelector=a%3Db&limit=500')).toMatchObject(res('list', 'cilium.io', 'ciliumnodes'));
    for (const w of ['true', '1', 'TRUE']) expect(attrs('GET', '/apis/cilium.io/v2/ciliumnodes', `watch=${w}&resourceVersion=7`).verb).toBe('watch');
    for (const w of ['false', '0']) expect(attrs('GET', '/apis/cilium.io/v2/ciliumnodes', `watch=${w}`).verb).toBe('list');
    expect(attrs('DELETE', '/api/v1/namespaces/default/events/x')).toMatchObject(res('delete', '', 'events', 'default', 'x'));
    expect(attrs('DELETE', '/api/v1/namespaces/default/events')).toMatchObject(res('deletecollection', '', 'events', 'default'));
  });

  it('list and watch take the name of a metadata.name field selector (so resourceNames can limit them); a named GET never becomes a watch', () => {
    const q = (sel: string, watch = false) => `${watch ? 'watch=true&' : ''}fieldSelector=${encodeURIComponent(sel)}`;
    expect(attrs('GET', '/apis/cilium.io/v2/ciliumvtepconfigs', q('metadata.name=hybrid-gateway'))).toMatchObject(res('list', 'cilium.io', 'ciliumvtepconfigs', '', 'hybrid-gateway'));
    expect(attrs('GET', '/apis/coordination.k8s.io/v1/namespaces/ns/leases', q('metadata.name=l', true))).toMatchObject(res('watch', 'coordination.k8s.io', 'leases', 'ns', 'l'));
    expect(attrs('GET', '/apis/cilium.io/v2/ciliumnodes', q('metadata.name!=x'))).toMatchObject({ verb: 'list', name: '' });
    expect(attrs('GET', '/apis/cilium.io/v2/ciliumnodes/n1', 'watch=true')).toMatchObject(res('get', 'cilium.io', 'ciliumnodes', '', 'n1'));
    expect(exactNameOf('spec.x=1,metadata.name==y')).toBe('y');
    expect(exactNameOf('metadata.namespace=y')).toBe('');
    expect(exactNameOf(null)).toBe('');
  });

  it('subresources, the /watch/ prefix, namespaces as objects, across-namespace lists, non-resource paths', () => {
    expect(attrs('PUT', '/apis/cilium.io/v2/ciliumvtepconfigs/hybrid-gateway/status')).toMatchObject(res('update', 'cilium.io', 'ciliumvtepconfigs', '', 'hybrid-gateway', 'status'));
    expect(attrs('GET', '/apis/coordination.k8s.io/v1/watch/namespaces/ns/leases/l')).toMatchObject(res('watch', 'coordination.k8s.io', 'leases', 'ns', 'l'));
    expect(attrs('GET', '/api/v1/watch/namespaces/ns/events')).toMatchObject(res('watch', '', 'events', 'ns'));
    expect(attrs('GET', '/api/v1/namespaces/ns')).toMatchObject(res('get', '', 'namespaces', 'ns', 'ns'));
    expect(attrs('PUT', '/api/v1/namespaces/ns/finalize')).toMatchObject(res('update', '', 'namespaces', 'ns', 'ns', 'finalize'));
    // A namespaced resource listed across all namespaces is a cluster-scoped request.
    expect(attrs('GET', '/api/v1/events')).toMatchObject(res('list', '', 'events', ''));
    for (const p of ['/version', '/api', '/api/v1', '/apis', '/apis/cilium.io', '/apis/cilium.io/v2', '/openapi/v3']) {
      expect(attrs('GET', p)).toEqual({ resourceRequest: false, verb: 'get', path: p });
    }
  });
});

// A chart-like set: a Role and its binding in "gw", an events Role in "default", a ClusterRole,
// and a binding for someone else that must not count.
const SA = { namespace: 'gw', name: 'gateway' };
const sa = [{ kind: 'ServiceAccount', name: 'gateway', namespace: 'gw' }];
const docs = [
  { kind: 'ServiceAccount', metadata: { name: 'gateway', namespace: 'gw' } },
  {
    kind: 'Role',
    metadata: { name: 'r', namespace: 'gw' },
    rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['lease'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  },
  { kind: 'RoleBinding', metadata: { name: 'r', namespace: 'gw' }, roleRef: { kind: 'Role', name: 'r' }, subjects: sa },
  { kind: 'Role', metadata: { name: 'ev', namespace: 'default' }, rules: [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }] },
  { kind: 'RoleBinding', metadata: { name: 'ev', namespace: 'default' }, roleRef: { kind: 'Role', name: 'ev' }, subjects: sa },
  {
    kind: 'ClusterRole',
    metadata: { name: 'c' },
    rules: [
      { apiGroups: ['cilium.io'], resources: ['ciliumnodes'], verbs: ['list', 'watch'] },
      { apiGroups: ['cilium.io'], resources: ['ciliumvtepconfigs'], resourceNames: ['hybrid-gateway'], verbs: ['get'] },
    ],
  },
  { kind: 'ClusterRoleBinding', metadata: { name: 'c' }, roleRef: { kind: 'ClusterRole', name: 'c' }, subjects: sa },
  { kind: 'ClusterRole', metadata: { name: 'other' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] },
  { kind: 'ClusterRoleBinding', metadata: { name: 'other' }, roleRef: { kind: 'ClusterRole', name: 'other' }, subjects: [{ kind: 'ServiceAccount', name: 'gateway', namespace: 'elsewhere' }] },
];

describe('grants (the RBAC authorizer)', () => {
  const grants = grantsFor(docs, SA);

  it('collects the rules bound to the ServiceAccount, each where it applies', () => {
    expect(grants.map((g) => `${g.role}#${g.ruleIndex}@${g.namespace ?? '*'}`)).toEqual(['Role gw/r#0@gw', 'Role gw/r#1@gw', 'Role gw/r#2@gw', 'Role default/ev#0@default', 'ClusterRole c#0@*', 'ClusterRole c#1@*']);
  });

  it('a ClusterRole through a RoleBinding applies in that namespace only; a binding to a missing role is an error', () => {
    const viaRb = grantsFor(
      [
        { kind: 'ClusterRole', metadata: { name: 'c' }, rules: [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }] },
        { kind: 'RoleBinding', metadata: { name: 'b', namespace: 'x' }, roleRef: { kind: 'ClusterRole', name: 'c' }, subjects: [{ kind: 'ServiceAccount', name: 'gateway' }] },
      ],
      { namespace: 'x', name: 'gateway' },
    );
    expect(viaRb).toHaveLength(1);
    expect(viaRb[0]!.namespace).toBe('x');
    expect(grantAllows(viaRb[0]!, attrs('POST', '/api/v1/namespaces/x/events'))).toBe(true);
    expect(grantAllows(viaRb[0]!, attrs('POST', '/api/v1/namespaces/y/events'))).toBe(false);
    expect(() => grantsFor([{ kind: 'RoleBinding', metadata: { name: 'b', namespace: 'gw' }, roleRef: { kind: 'Role', name: 'gone' }, subjects: sa }], SA)).toThrow(/Role gone, not among the manifests/);
  });

  it('a Role allows nothing cluster-scoped nor in another namespace; resourceNames never match a create or an unnamed list', () => {
    const role = grants.filter((g) => g.role === 'Role gw/r');
    const allowed = (m: string, p: string, q = '') => role.some((g) => grantAllows(g, attrs(m, p, q)));
    expect(allowed('POST', '/apis/coordination.k8s.io/v1/namespaces/gw/leases')).toBe(true);
    expect(allowed('PUT', '/apis/coordination.k8s.io/v1/namespaces/gw/leases/lease')).toBe(true);
    expect(allowed('PUT', '/apis/coordination.k8s.io/v1/namespaces/gw/leases/other')).toBe(false);
    expect(allowed('PUT', '/apis/coordination.k8s.io/v1/namespaces/elsewhere/leases/lease')).toBe(false);
    expect(allowed('GET', '/apis/coordination.k8s.io/v1/leases/lease')).toBe(false);
    const named = { apiGroups: ['cilium.io'], resources: ['ciliumvtepconfigs'], resourceNames: ['hybrid-gateway'], verbs: ['create', 'list'] };
    expect(ruleAllows(named, attrs('POST', '/apis/cilium.io/v2/ciliumvtepconfigs'))).toBe(false);
    expect(ruleAllows(named, attrs('GET', '/apis/cilium.io/v2/ciliumvtepconfigs'))).toBe(false);
    expect(ruleAllows(named, attrs('GET', '/apis/cilium.io/v2/ciliumvtepconfigs', 'fieldSelector=metadata.name%3Dhybrid-gateway'))).toBe(true);
  });

  it('a subresource needs resource/subresource (or */subresource) in the rule; * matches anything', () => {
    const status = attrs('PUT', '/apis/cilium.io/v2/ciliumvtepconfigs/x/status');
    expect(ruleAllows({ apiGroups: ['cilium.io'], resources: ['ciliumvtepconfigs'], verbs: ['update'] }, status)).toBe(false);
    expect(ruleAllows({ apiGroups: ['cilium.io'], resources: ['ciliumvtepconfigs/status'], verbs: ['update'] }, status)).toBe(true);
    expect(ruleAllows({ apiGroups: ['cilium.io'], resources: ['*/status'], verbs: ['update'] }, status)).toBe(true);
    expect(ruleAllows({ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, status)).toBe(true);
    expect(ruleAllows({ nonResourceURLs: ['/apis/*'], verbs: ['get'] }, attrs('GET', '/apis/cilium.io/v2'))).toBe(true);
    expect(ruleAllows({ nonResourceURLs: ['/version'], verbs: ['get'] }, attrs('GET', '/version/x'))).toBe(false);
  });
});

describe('used versus granted', () => {
  const grants = grantsFor(docs, SA);
  const rec = (method: string, path: string, query = '', remoteAddress = '198.18.0.11'): RecordedRequest => ({ method, path, query, remoteAddress });
  const who = (r: RecordedRequest): string | undefined => (r.remoteAddress === '198.18.0.11' ? 'gw-a' : r.remoteAddress === '198.18.0.12' ? 'gw-b' : undefined);
  const everything: RecordedRequest[] = [
    rec('POST', '/apis/coordination.k8s.io/v1/namespaces/gw/leases'),
    rec('GET', '/apis/coordination.k8s.io/v1/namespaces/gw/leases/lease'),
    rec('PUT', '/apis/coordination.k8s.io/v1/namespaces/gw/leases/lease', '', '198.18.0.12'),
    rec('POST', '/api/v1/namespaces/gw/events'),
    rec('PATCH', '/api/v1/namespaces/gw/events/e'),
    rec('POST', '/api/v1/namespaces/default/events'),
    rec('GET', '/apis/cilium.io/v2/ciliumnodes', 'labelSelector=x'),
    rec('GET', '/apis/cilium.io/v2/ciliumnodes', 'watch=true&labelSelector=x'),
    rec('GET', '/apis/cilium.io/v2/ciliumvtepconfigs/hybrid-gateway'),
    rec('GET', '/version'),
    // Not a gateway: not counted.
    rec('DELETE', '/api/v1/namespaces/gw/secrets/s', '', '198.18.0.19'),
  ];

  it('groups the requests by their attributes and by sender, ignoring other clients', () => {
    const uses = usesOf(everything, who);
    expect(uses).toHaveLength(10);
    const lease = uses.find((u) => u.attrs.resourceRequest && u.attrs.resource === 'leases' && u.attrs.verb === 'update');
    expect(lease).toMatchObject({ count: 1, by: ['gw-b'], example: 'PUT /apis/coordination.k8s.io/v1/namespaces/gw/leases/lease' });
  });

  it('all used and all granted: nothing denied, unused or broader than used (discovery needs no grant)', () => {
    const c = compareRbac(usesOf(everything, who), grants);
    expect(c.denied).toEqual([]);
    expect(c.unused).toEqual([]);
    expect(c.broaderThanUsed).toEqual([]);
  });

  it('a request no rule allows is denied: a cluster-scoped object a Role names, another namespace, another verb', () => {
    const c = compareRbac(
      usesOf([...everything, rec('POST', '/apis/cilium.io/v2/ciliumvtepconfigs'), rec('POST', '/api/v1/namespaces/kube-system/events'), rec('DELETE', '/apis/coordination.k8s.io/v1/namespaces/gw/leases/lease')], who),
      grants,
    );
    expect(c.denied.map((u) => u.example).sort()).toEqual(['DELETE /apis/coordination.k8s.io/v1/namespaces/gw/leases/lease', 'POST /api/v1/namespaces/kube-system/events', 'POST /apis/cilium.io/v2/ciliumvtepconfigs']);
  });

  it('a grant never exercised is unused, per group, resource, verb and resourceName', () => {
    const c = compareRbac(usesOf(everything.filter((r) => r.method !== 'PATCH' && r.path !== '/apis/cilium.io/v2/ciliumvtepconfigs/hybrid-gateway'), who), grants);
    expect(c.unused.map(describeItem)).toEqual(['Role gw/r rule 2: patch core/events (in gw)', 'ClusterRole c rule 1: get cilium.io/ciliumvtepconfigs "hybrid-gateway" (cluster-wide)']);
  });

  it('a cluster-wide grant used only where a Role already reaches is broader than used; needed for another namespace, it is not', () => {
    const wide: Grant = { role: 'ClusterRole owner', roleKind: 'ClusterRole', namespace: undefined, ruleIndex: 0, rule: { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] } };
    const own = compareRbac(usesOf(everything, who), [...grants, wide]);
    expect(own.broaderThanUsed.map(describeItem)).toEqual(['ClusterRole owner rule 0: get coordination.k8s.io/leases (cluster-wide)']);
    const another = compareRbac(usesOf([...everything, rec('GET', '/apis/coordination.k8s.io/v1/namespaces/other-install/leases/their-lease')], who), [...grants, wide]);
    expect(another.broaderThanUsed).toEqual([]);
    expect(another.unused).toEqual([]);
    expect(another.denied).toEqual([]);
  });
});
