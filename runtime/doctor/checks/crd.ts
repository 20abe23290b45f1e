// kube.crd: the CiliumVTEPConfig CRD is installed (Cilium ≥ 1.19 ships it; the gateway writes one object of it).
import { fail, pass, type Check } from '../check.js';
import { readCrd, VTEP_CRD_NAME } from '../reads.js';

export interface CrdFacts {
  readonly name: string;
  readonly present: boolean;
  /** The versions it serves (spec.versions[].name where served). */
  readonly served: readonly string[];
}

export const crdCheck: Check<CrdFacts> = {
  name: 'kube.crd',
  title: `CRD ${VTEP_CRD_NAME} is installed and serves v2`,
  reads: `apiextensions.k8s.io/v1 CustomResourceDefinition ${VTEP_CRD_NAME}`,
  async gather(ctx) {
    const crd = await readCrd(ctx, VTEP_CRD_NAME);
    const versions = (crd?.spec as { versions?: Array<{ name?: unknown; served?: unknown }> } | undefined)?.versions;
    const served = Array.isArray(versions) ? versions.filter((v) => v.served === true && typeof v.name === 'string').map((v) => v.name as string) : [];
    return { name: VTEP_CRD_NAME, present: crd !== undefined, served };
  },
  judge(f) {
    const fix = 'Install Cilium 1.19 or later with its CRDs (the Helm chart installs ciliumvtepconfigs.cilium.io), or apply the CRD from Cilium\'s pkg/k8s/apis/cilium.io/client/crds/v2/ciliumvtepconfigs.yaml';
    if (!f.present) return fail(`CRD ${f.name} not found`, fix);
    if (!f.served.includes('v2')) return fail(`CRD ${f.name} serves ${f.served.join(', ') || 'no version'}, not v2`, fix);
    return pass(`CRD ${f.name} serves ${f.served.join(', ')}`);
  },
};
