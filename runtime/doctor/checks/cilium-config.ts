// cilium.*: what cilium-config must say for VTEP to carry the hybrid pods' traffic.
import { fail, pass, type Check } from '../check.js';
import { CILIUM_CONFIG, readCiliumConfig } from '../reads.js';

export interface CiliumConfigFacts {
  /** undefined: the ConfigMap does not exist. */
  readonly data: Readonly<Record<string, string>> | undefined;
  /** The gateway's --vxlan-vni / VXLAN_VNI. */
  readonly vni: number;
}

const WHERE = `ConfigMap ${CILIUM_CONFIG.namespace}/${CILIUM_CONFIG.name}`;
const NO_CONFIG = `Install Cilium with its Helm chart: it writes ${WHERE}; doctor reads the agent configuration from there`;

async function gather(ctx: Parameters<Check<CiliumConfigFacts>['gather']>[0]): Promise<CiliumConfigFacts> {
  return { data: await readCiliumConfig(ctx), vni: ctx.config.vxlanVNI };
}

const shown = (v: string | undefined): string => (v === undefined ? 'absent' : JSON.stringify(v));

export const vtepEnabledCheck: Check<CiliumConfigFacts> = {
  name: 'cilium.vtep-enabled',
  title: 'cilium-config has enable-vtep: "true"',
  reads: `${WHERE} key enable-vtep`,
  gather,
  judge(f) {
    if (f.data === undefined) return fail(`${WHERE} not found`, NO_CONFIG);
    const v = f.data['enable-vtep'];
    if (v !== 'true') return fail(`enable-vtep is ${shown(v)}`, 'Set the Helm value vtep.enabled=true (cilium-config enable-vtep: "true") and restart the Cilium agents');
    return pass('enable-vtep is "true"');
  },
};

export const l7ProxyDisabledCheck: Check<CiliumConfigFacts> = {
  name: 'cilium.l7-proxy-disabled',
  title: 'cilium-config has enable-l7-proxy: "false"',
  reads: `${WHERE} key enable-l7-proxy`,
  gather,
  judge(f) {
    if (f.data === undefined) return fail(`${WHERE} not found`, NO_CONFIG);
    const v = f.data['enable-l7-proxy'];
    // Cilium's default is true: an absent key means the proxy is on.
    if (v !== 'false') return fail(`enable-l7-proxy is ${shown(v)}`, 'Set the Helm value l7Proxy=false (cilium-config enable-l7-proxy: "false"): Cilium\'s VTEP integration requires the L7 proxy off');
    return pass('enable-l7-proxy is "false"');
  },
};

export const vniCheck: Check<CiliumConfigFacts> = {
  name: 'cilium.vni',
  title: "the gateway's VNI is Cilium's WORLD identity: 9 on dual-stack (enable-ipv6), else 2",
  reads: `${WHERE} key enable-ipv6; the gateway's --vxlan-vni / VXLAN_VNI`,
  gather,
  judge(f) {
    if (f.data === undefined) return fail(`${WHERE} not found`, NO_CONFIG);
    const dual = f.data['enable-ipv6'] === 'true';
    const want = dual ? 9 : 2;
    const saw = `enable-ipv6 is ${shown(f.data['enable-ipv6'])}, VXLAN_VNI is ${f.vni}`;
    if (f.vni !== want) return fail(saw, `Set VXLAN_VNI=${want} (--vxlan-vni ${want}): on a ${dual ? 'dual-stack' : 'single-stack'} cluster Cilium's WORLD identity is ${want}`);
    return pass(saw);
  },
};
