// doctor.rbac, rendered (`helm template`, offline): off (the default) the chart
// renders exactly what it did without the value; on, it adds a ClusterRole and
// two Roles for doctor's reads beyond the gateway's own, bound to the gateway's
// ServiceAccount, and changes nothing else. That these rules are what doctor
// uses is doctor-rbac-use.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTO_SETS, chartDir, findDoc, Helm, NAMESPACE, parseManifests, RELEASE, type KubeDoc } from './helm.js';
import { validateBuiltIn } from './validate.js';

interface RoleDoc extends KubeDoc {
  rules: Array<{ apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] }>;
}
interface BindingDoc extends KubeDoc {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}

const DOCTOR = `${RELEASE}-doctor`;
const DOCTOR_KUBE_SYSTEM = `${RELEASE}-doctor-kube-system`;
const key = (d: KubeDoc): string => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`;
const isDoctor = (d: KubeDoc): boolean => d.metadata.name === DOCTOR || d.metadata.name === DOCTOR_KUBE_SYSTEM;

let helm: Helm;
let off: KubeDoc[];
let on: KubeDoc[];
beforeAll(async () => {
  helm = new Helm();
  [off, on] = await Promise.all([helm.template(AUTO_SETS), helm.template([...AUTO_SETS, 'doctor.rbac=true'])]);
});
afterAll(() => helm?.dispose());

describe('doctor.rbac (default false)', () => {
  it('off: the same objects as without the value, none of doctor’s', async () => {
    expect(await helm.template([...AUTO_SETS, 'doctor.rbac=false'])).toEqual(off);
    expect(off.filter(isDoctor)).toEqual([]);
  });

  it('on: six objects more, every other object exactly as with it off', () => {
    expect(on.filter(isDoctor).map(key).sort()).toEqual(
      [
        `ClusterRole//${DOCTOR}`,
        `ClusterRoleBinding//${DOCTOR}`,
        `Role/${NAMESPACE}/${DOCTOR}`,
        `RoleBinding/${NAMESPACE}/${DOCTOR}`,
        `Role/kube-system/${DOCTOR_KUBE_SYSTEM}`,
        `RoleBinding/kube-system/${DOCTOR_KUBE_SYSTEM}`,
      ].sort(),
    );
    expect(on.filter((d) => !isDoctor(d))).toEqual(off);
    for (const d of on.filter(isDoctor)) validateBuiltIn(d);
  });

  it('ClusterRole: get of the CRD ciliumvtepconfigs.cilium.io, by name, and nothing else', () => {
    expect((findDoc(on, 'ClusterRole', DOCTOR) as RoleDoc).rules).toEqual([
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], resourceNames: ['ciliumvtepconfigs.cilium.io'], verbs: ['get'] },
    ]);
  });

  it('Role in the release namespace: get and list of pods (the holder’s pod by a name only known at run time, the gateway pods by label)', () => {
    const role = on.find((d) => d.kind === 'Role' && d.metadata.name === DOCTOR) as RoleDoc;
    expect(role.metadata.namespace).toBe(NAMESPACE);
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]);
  });

  it('Role in kube-system: get of ConfigMap cilium-config and DaemonSet aws-node, by name', () => {
    const role = findDoc(on, 'Role', DOCTOR_KUBE_SYSTEM) as RoleDoc;
    expect(role.metadata.namespace).toBe('kube-system');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['cilium-config'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['aws-node'], verbs: ['get'] },
    ]);
  });

  it('each bound to the gateway’s ServiceAccount in the release namespace only (not the hook’s)', () => {
    const sa = findDoc(on, 'ServiceAccount', RELEASE).metadata.name;
    for (const [kind, roleKind, name, namespace] of [
      ['ClusterRoleBinding', 'ClusterRole', DOCTOR, undefined],
      ['RoleBinding', 'Role', DOCTOR, NAMESPACE],
      ['RoleBinding', 'Role', DOCTOR_KUBE_SYSTEM, 'kube-system'],
    ] as const) {
      const b = on.find((d) => d.kind === kind && d.metadata.name === name) as BindingDoc;
      expect(b.metadata.namespace).toBe(namespace);
      expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name });
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: NAMESPACE }]);
    }
  });

  it('follows the namespace value; in kube-system itself the two Roles keep apart by name', async () => {
    const moved = await helm.template([...AUTO_SETS, 'doctor.rbac=true', 'namespace=gateways']);
    expect(moved.filter(isDoctor).map(key).sort()).toEqual(
      [`ClusterRole//${DOCTOR}`, `ClusterRoleBinding//${DOCTOR}`, `Role/gateways/${DOCTOR}`, `RoleBinding/gateways/${DOCTOR}`, `Role/kube-system/${DOCTOR_KUBE_SYSTEM}`, `RoleBinding/kube-system/${DOCTOR_KUBE_SYSTEM}`].sort(),
    );
    for (const b of moved.filter((d): d is BindingDoc => isDoctor(d) && d.kind.endsWith('Binding'))) expect(b.subjects[0]?.namespace).toBe('gateways');
    const r = await helm.run(['template', RELEASE, chartDir, '--namespace', 'kube-system', ...[...AUTO_SETS, 'doctor.rbac=true'].flatMap((s) => ['--set', s])]);
    expect(r.code, r.stderr).toBe(0);
    const inKubeSystem = parseManifests(r.stdout).filter((d) => isDoctor(d) && d.kind === 'Role');
    expect(inKubeSystem.map(key).sort()).toEqual([`Role/kube-system/${DOCTOR}`, `Role/kube-system/${DOCTOR_KUBE_SYSTEM}`]);
  });
});
