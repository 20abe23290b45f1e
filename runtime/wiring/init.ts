// The gateway statechart's init stages and the device watchdog, as effects:
// each actor does its stage once; retrying is the statechart's.
import { fromCallback, fromPromise } from 'xstate';
import type { GatewayEvent } from '../../machines/gateway.machine.js';
import { TIMINGS } from '../../machines/timings.js';
import { checkSourceDestCheck } from '../../effects/aws/index.js';
import type { RulePlan } from '../../effects/netlink/index.js';
import type { GatewayConfig } from '../config/parse.js';
import type { Logger } from '../logging.js';
import { VXLAN_DEVICE, type HostFacts } from './host.js';
import type { ClockPort, CloudPort, DataPlanePort } from './ports.js';

export interface InitWiring {
  readonly config: GatewayConfig;
  readonly dp: DataPlanePort;
  readonly cloud: CloudPort;
  readonly clock: ClockPort;
  readonly host: HostFacts;
  readonly log: Logger;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function initActors({ config, dp, cloud, clock, host, log }: InitWiring) {
  const deviceOptions = { name: VXLAN_DEVICE, vni: config.vxlanVNI, mtu: config.vxlanMTU, nodeIP: config.nodeIP };
  const logRules = (plan: RulePlan, what: string): void => {
    const changed = plan.add.length + plan.remove.length > 0;
    const fields = { table: dp.routeTable, added: plan.add.length, removed: plan.remove.length, kept: plan.unchanged };
    if (what === 'policy rules ready') log.info(fields, what);
    else if (changed) log.warn(fields, what);
  };
  return {
    ensureDevice: fromPromise<void>(async ({ signal }) => {
      const device = await dp.ensureDevice({ ...deviceOptions, signal });
      host.device = device;
      log.info({ device: device.name, action: device.action, changes: device.changes, mtu: device.mtu, mac: device.mac, underlay: device.underlay.name }, 'vxlan device ready');
      logRules(await dp.ensureRules(config.podCIDRs, { signal }), 'policy rules ready');
    }),
    checkForwarding: fromPromise<void>(async () => {
      if (!(await dp.ipForwardEnabled())) throw new Error('net.ipv4.ip_forward is 0 on this node: the gateway cannot forward (set it to 1)');
    }),
    discoverCloud: fromPromise<void>(async ({ signal }) => {
      if (host.cloud) return;
      const id = await cloud.discover({ nodeIP: config.nodeIP, region: config.awsRegion, instanceId: config.awsInstanceID, signal });
      const ec2 = cloud.ec2(id.region);
      host.cloud = { id, ec2 };
      log.info({ instanceId: id.instanceId, region: id.region, eni: id.networkInterfaceId }, 'instance identity');
      checkSourceDestCheck(ec2, id.networkInterfaceId, { signal })
        .then((r) => {
          if (!r.canForward) log.error({ eni: id.networkInterfaceId }, r.message);
        })
        .catch((err: unknown) => log.warn({ err }, 'source/destination check could not be read'));
    }),
    // The device and the rules may be deleted or changed by hand: checked every 10 s, repaired,
    // and the fleet told to sweep the kernel again when the device had to be recreated or fixed.
    watchDevice: fromCallback<GatewayEvent>(({ sendBack }) => {
      return clock.every(TIMINGS.deviceCheckMs, () => {
        if (!host.device) return;
        dp.ensureRules(config.podCIDRs)
          .then((plan) => logRules(plan, 'policy rules repaired'))
          .catch((err: unknown) => log.error({ err: errorText(err) }, 'policy rule check failed'));
        dp.ensureDevice(deviceOptions)
          .then((d) => {
            host.device = d;
            if (d.action !== 'adopted') {
              log.warn({ action: d.action, changes: d.changes }, 'vxlan device repaired');
              sendBack({ type: 'DEVICE.REPAIRED' });
            }
          })
          .catch((err: unknown) => log.error({ err: errorText(err) }, 'vxlan device check failed'));
      });
    }),
  };
}
