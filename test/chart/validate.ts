// Validation of rendered objects against the Kubernetes OpenAPI schemas, with
// kubernetes-models (precompiled AJV validators generated from the upstream
// OpenAPI spec): each built-in kind's class has .validate(), which throws with
// the JSON path of every violation (types, required fields, enums, formats).
//
// The OpenAPI schemas are open (no additionalProperties: false), so a
// misspelled field is not caught here; the chart tests assert the fields that
// matter explicitly.
//
// CRD kinds have no schema in kubernetes-models. For them we validate what is
// built from Kubernetes types with those types' schemas (ObjectMeta, the
// NodePool's taints and requirements, the PodMonitor's LabelSelector) and check
// the CRD-specific fields against the CRDs' documented rules in the tests.
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { LabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { NodeSelectorRequirement } from 'kubernetes-models/v1/NodeSelectorRequirement';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Taint } from 'kubernetes-models/v1/Taint';
import type { KubeDoc } from './helm.js';

interface Validatable {
  validate(): void;
}
type ModelCtor = new (data: never) => Validatable;

const BUILT_IN: Record<string, ModelCtor> = {
  'apps/v1 Deployment': Deployment,
  'batch/v1 Job': Job,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1 ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1 ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1 Role': Role,
  'rbac.authorization.k8s.io/v1 RoleBinding': RoleBinding,
  'v1 ConfigMap': ConfigMap,
  'v1 Namespace': Namespace,
  'v1 ServiceAccount': ServiceAccount,
};

/** CRD kinds the chart renders (checked by checkCustomResource instead). */
export const CUSTOM_KINDS = new Set(['karpenter.sh/v1 NodePool', 'eks.amazonaws.com/v1 NodeClass', 'monitoring.coreos.com/v1 PodMonitor', 'monitoring.coreos.com/v1 PrometheusRule']);

function model<T extends Validatable>(Ctor: new (data: never) => T, data: unknown): T {
  return new Ctor(data as never);
}

function run(what: string, v: Validatable): void {
  try {
    v.validate();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** Throws when a built-in object violates its OpenAPI schema, or when its kind is unknown to both lists. */
export function validateBuiltIn(doc: KubeDoc): void {
  const key = `${doc.apiVersion} ${doc.kind}`;
  const Ctor = BUILT_IN[key];
  if (Ctor === undefined) throw new Error(`no OpenAPI model for ${key} (${doc.metadata.name})`);
  run(`${doc.kind} ${doc.metadata.name}`, model(Ctor, doc));
}

/** The Kubernetes-typed parts of a CRD object, against their OpenAPI schemas. */
export function validateCustomResourceParts(doc: KubeDoc): void {
  const key = `${doc.apiVersion} ${doc.kind}`;
  if (!CUSTOM_KINDS.has(key)) throw new Error(`unexpected custom resource ${key}`);
  const what = `${doc.kind} ${doc.metadata.name}`;
  run(`${what} metadata`, model(ObjectMeta, doc.metadata));
  const spec = doc.spec as Record<string, unknown> | undefined;
  if (spec === undefined) throw new Error(`${what}: no spec`);
  if (doc.kind === 'NodePool') {
    const tpl = spec.template as { metadata?: unknown; spec?: { taints?: unknown[]; requirements?: Array<Record<string, unknown>> } };
    run(`${what} template metadata`, model(ObjectMeta, tpl.metadata ?? {}));
    for (const t of tpl.spec?.taints ?? []) run(`${what} taint`, model(Taint, t));
    // Karpenter's requirement is a NodeSelectorRequirement plus minValues.
    for (const r of tpl.spec?.requirements ?? []) {
      const { minValues: _minValues, ...base } = r;
      run(`${what} requirement`, model(NodeSelectorRequirement, base));
    }
  }
  if (doc.kind === 'PodMonitor') {
    run(`${what} selector`, model(LabelSelector, spec.selector));
  }
  if (doc.kind === 'PrometheusRule') checkPrometheusRuleSpec(what, spec);
}

/** The Prometheus Operator CRD's duration pattern (`for`, `interval`). */
const OPERATOR_DURATION = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;

/** The PrometheusRule CRD's rules: groups with unique names, each rule an alert or a record with an expr, durations in its pattern, string labels and annotations. */
function checkPrometheusRuleSpec(what: string, spec: Record<string, unknown>): void {
  const groups = spec.groups as Array<{ name?: unknown; interval?: unknown; rules?: Array<Record<string, unknown>> }> | undefined;
  if (!Array.isArray(groups) || groups.length === 0) throw new Error(`${what}: spec.groups is empty`);
  const names = new Set<string>();
  for (const g of groups) {
    if (typeof g.name !== 'string' || g.name.length === 0) throw new Error(`${what}: a group without a name`);
    if (names.has(g.name)) throw new Error(`${what}: group ${g.name} twice`);
    names.add(g.name);
    if (g.interval !== undefined && (typeof g.interval !== 'string' || !OPERATOR_DURATION.test(g.interval))) throw new Error(`${what}: group ${g.name} interval ${JSON.stringify(g.interval)}`);
    for (const r of g.rules ?? []) {
      const id = JSON.stringify(r.alert ?? r.record);
      if ((typeof r.alert === 'string') === (typeof r.record === 'string')) throw new Error(`${what}: rule ${id} must have exactly one of alert and record`);
      if (typeof r.expr !== 'string' || r.expr.trim() === '') throw new Error(`${what}: rule ${id} has no expr`);
      if (r.for !== undefined && (typeof r.for !== 'string' || !OPERATOR_DURATION.test(r.for))) throw new Error(`${what}: rule ${id} for ${JSON.stringify(r.for)} is not a duration the CRD takes`);
      for (const k of ['labels', 'annotations'] as const) {
        const m = r[k];
        if (m === undefined) continue;
        if (typeof m !== 'object' || m === null || Object.values(m).some((v) => typeof v !== 'string')) throw new Error(`${what}: rule ${id} ${k} must map strings to strings`);
      }
    }
  }
}
