// Prometheus metrics with the names, types and labels the reference gateway
// exports from its code (its README differs; dashboards follow the code), plus
// our own: the gateway machine's state, failover duration, skipped nodes.
// Interface counters are read from the kernel on each scrape, as the
// reference's collector does; they are gauges there, so they are gauges here.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface InterfaceCounters {
  rxBytes: number | bigint;
  txBytes: number | bigint;
  rxPackets: number | bigint;
  txPackets: number | bigint;
  rxDropped: number | bigint;
  txDropped: number | bigint;
  rxErrors: number | bigint;
  txErrors: number | bigint;
}

/** What one scrape reads from the kernel; undefined parts are not reported. */
export interface ScrapeStats {
  vxlan?: InterfaceCounters & { up: boolean; fdbEntries: number; routeCount: number };
  primary?: InterfaceCounters & { name: string };
}

export interface GatewayInfo {
  nodeIP: string;
  nodeName: string;
  vxlanInterface: string;
  vpcCIDRs: readonly string[];
  podCIDRs: readonly string[];
}

const NS = 'hybrid_gateway';
const COUNTER_FIELDS: Array<[keyof InterfaceCounters, string]> = [
  ['rxBytes', 'rx_bytes_total'],
  ['txBytes', 'tx_bytes_total'],
  ['rxPackets', 'rx_packets_total'],
  ['txPackets', 'tx_packets_total'],
  ['rxDropped', 'rx_dropped_total'],
  ['txDropped', 'tx_dropped_total'],
  ['rxErrors', 'rx_errors_total'],
  ['txErrors', 'tx_errors_total'],
];

export const GATEWAY_STATES = ['initialising', 'initRetry', 'standby', 'acquiring', 'leader', 'steppingDown', 'stopped', 'failed'] as const;
export type GatewayStateName = (typeof GATEWAY_STATES)[number];

/**
 * The gauge's name for the gateway's state: the root's value (init stages and their retries folded),
 * and while serving, the furthest along of its shards' (leader, then steppingDown, acquiring, standby).
 */
export function gatewayStateName(value: unknown, shardValues: readonly unknown[] = []): GatewayStateName {
  if (typeof value === 'string') return value === 'failed' ? 'failed' : value === 'stopped' ? 'stopped' : value === 'serving' || value === 'stopping' ? shardStateName(shardValues) : 'initialising';
  const v = (value ?? {}) as Record<string, unknown>;
  if ('initialising' in v) return typeof v.initialising === 'string' && v.initialising.endsWith('Retry') ? 'initRetry' : 'initialising';
  return shardStateName(shardValues);
}

const SHARD_STATE_ORDER: readonly GatewayStateName[] = ['leader', 'steppingDown', 'acquiring', 'standby', 'stopped'];

function shardStateName(shardValues: readonly unknown[]): GatewayStateName {
  const names = shardValues.map((value): GatewayStateName => {
    if (value === 'stopped') return 'stopped';
    const v = (value ?? {}) as Record<string, unknown>;
    if ('electing' in v) return v.electing === 'acquiring' ? 'acquiring' : 'standby';
    if ('leader' in v) return 'leader';
    if ('steppingDown' in v) return 'steppingDown';
    return 'standby';
  });
  return SHARD_STATE_ORDER.find((n) => names.includes(n)) ?? 'standby';
}

export function createMetrics(info: GatewayInfo, scrape: () => Promise<ScrapeStats>) {
  const registry = new Registry();
  // The standard process_* and nodejs_* metrics (CPU, resident memory, heap, GC), as operators expect of any exporter.
  collectDefaultMetrics({ register: registry });
  let lastScrape: Promise<ScrapeStats> | undefined;
  // One kernel read per scrape, shared by every interface gauge.
  const stats = (): Promise<ScrapeStats> => {
    lastScrape ??= scrape()
      .catch((): ScrapeStats => ({}))
      .finally(() => setImmediate(() => (lastScrape = undefined)));
    return lastScrape;
  };

  // A gauge read from the kernel at scrape time, absent from the output when
  // there is nothing to report (no device yet), as the reference's collector does.
  const gaugeFrom = (name: string, help: string, read: (s: ScrapeStats) => number | bigint | undefined): void => {
    registry.registerMetric({
      name,
      help,
      type: 'gauge',
      aggregator: 'sum',
      async get() {
        const value = read(await stats());
        return { name, help, type: 'gauge', aggregator: 'sum', values: value === undefined ? [] : [{ value: Number(value), labels: {} }] };
      },
      reset() {},
    } as unknown as Gauge);
  };

  for (const [field, suffix] of COUNTER_FIELDS) {
    const [dir, what] = suffix.split('_') as [string, string];
    const text = `Total ${what} ${dir === 'rx' ? 'received' : 'transmitted'}`;
    gaugeFrom(`${NS}_vxlan_${suffix}`, `${text} on the VXLAN interface (hybrid_vxlan0).`, (s) => s.vxlan?.[field]);
    gaugeFrom(`${NS}_primary_nic_${suffix}`, `${text} on the primary network interface.`, (s) => s.primary?.[field]);
  }
  gaugeFrom(`${NS}_vxlan_interface_up`, '1 if the VXLAN interface (hybrid_vxlan0) is UP, 0 otherwise.', (s) => (s.vxlan ? (s.vxlan.up ? 1 : 0) : 0));
  // The reference README's name for the same gauge, kept so either dashboard works.
  gaugeFrom(`${NS}_vxlan_up`, 'Alias of hybrid_gateway_vxlan_interface_up (the name in the reference README).', (s) => (s.vxlan ? (s.vxlan.up ? 1 : 0) : 0));
  gaugeFrom(`${NS}_vxlan_fdb_entries`, 'Current number of FDB entries on hybrid_vxlan0.', (s) => s.vxlan?.fdbEntries);
  gaugeFrom(`${NS}_vxlan_route_count`, 'Current number of routes via the VXLAN interface.', (s) => s.vxlan?.routeCount);
  const nicInfo: Gauge<'interface_name'> = new Gauge({
    name: `${NS}_primary_nic_info`,
    help: 'Primary NIC name. Always 1.',
    labelNames: ['interface_name'],
    registers: [registry],
    async collect() {
      const s = await stats();
      nicInfo.reset();
      if (s.primary) nicInfo.set({ interface_name: s.primary.name }, 1);
    },
  });

  const gatewayInfo = new Gauge({
    name: `${NS}_info`,
    help: 'Static information about the gateway instance. Always 1.',
    labelNames: ['node_ip', 'node_name', 'vxlan_interface', 'vpc_cidr', 'pod_cidr'],
    registers: [registry],
  });
  gatewayInfo.set(
    { node_ip: info.nodeIP, node_name: info.nodeName, vxlan_interface: info.vxlanInterface, vpc_cidr: info.vpcCIDRs.join(','), pod_cidr: info.podCIDRs.join(',') },
    1,
  );

  let readiness: (() => boolean) | undefined;
  const m = {
    registry,
    hybridNodesConfigured: new Gauge({ name: `${NS}_hybrid_nodes_configured`, help: 'Current number of hybrid nodes with VTEP entries configured.', registers: [registry] }),
    vtepAdd: new Counter({ name: `${NS}_vtep_add_total`, help: 'Total number of successful VTEP add operations.', registers: [registry] }),
    vtepAddErrors: new Counter({ name: `${NS}_vtep_add_errors_total`, help: 'Total number of failed VTEP add operations.', registers: [registry] }),
    vtepRemove: new Counter({ name: `${NS}_vtep_remove_total`, help: 'Total number of successful VTEP remove operations.', registers: [registry] }),
    vtepRemoveErrors: new Counter({ name: `${NS}_vtep_remove_errors_total`, help: 'Total number of failed VTEP remove operations.', registers: [registry] }),
    routeTableUpdate: new Counter({ name: `${NS}_aws_route_table_update_total`, help: 'Total number of successful AWS route table update operations.', registers: [registry] }),
    routeTableUpdateErrors: new Counter({ name: `${NS}_aws_route_table_update_errors_total`, help: 'Total number of failed AWS route table update operations.', registers: [registry] }),
    routeTableUpdateDuration: new Histogram({
      name: `${NS}_aws_route_table_update_duration_seconds`,
      help: 'Duration of AWS route table update operations in seconds.',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    leaderIsActive: new Gauge({ name: `${NS}_leader_is_active`, help: '1 if this gateway instance is the active leader (of any shard), 0 if standby.', registers: [registry] }),
    shardLeader: new Gauge({ name: `${NS}_shard_leader`, help: '1 if this gateway leads the shard (--shards; one shard, 0, by default), 0 if not.', labelNames: ['shard'], registers: [registry] }),
    leaderSetupDuration: new Histogram({
      name: `${NS}_leader_setup_duration_seconds`,
      help: 'Duration of leader setup operations (route tables + CiliumVTEPConfig) in seconds.',
      buckets: [0.5, 1, 2, 5, 10, 15, 30],
      registers: [registry],
    }),
    // Ours.
    gatewayState: new Gauge({
      name: `${NS}_gateway_state`,
      help: 'State of the gateway statechart: 1 for the current state, 0 for the others.',
      labelNames: ['state'],
      registers: [registry],
    }),
    failoverDuration: new Histogram({
      name: `${NS}_failover_duration_seconds`,
      help: 'From the previous holder last seen alive (its last renewal or release) to this gateway leading with routes and CiliumVTEPConfig written.',
      buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30],
      registers: [registry],
    }),
    nodesRefused: new Gauge({
      name: `${NS}_vtep_nodes_refused`,
      help: 'Hybrid nodes whose entries the kernel refused and that are not programmed since (retried on every sweep).',
      registers: [registry],
    }),
    vtepConfigOwnerConflict: new Gauge({
      name: `${NS}_vtep_config_owner_conflict`,
      help: "1 while this leader writes nothing shared because the CiliumVTEPConfig is owned by another installation's live Lease.",
      registers: [registry],
    }),
    nodesSkipped: new Gauge({
      name: `${NS}_cilium_nodes_skipped`,
      help: 'CiliumNodes currently skipped as malformed or conflicting, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    nodesSkippedTotal: new Counter({
      name: `${NS}_cilium_nodes_skipped_total`,
      help: 'Times a CiliumNode was newly found malformed or conflicting, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    eventLoopDelay: new Histogram({
      name: `${NS}_event_loop_delay_seconds`,
      help: 'Worst event-loop delay of each second: how long timers, lease renewals and probes waited.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    ready: new Gauge({
      name: `${NS}_ready`,
      help: '1 while /readyz answers 200 (VXLAN device up, CiliumNode informer synced, data plane converged), 0 otherwise.',
      registers: [registry],
      collect() {
        m.ready.set(readiness?.() === true ? 1 : 0);
      },
    }),
    /** Where hybrid_gateway_ready reads readiness at scrape time (the health server's own checks). */
    readinessFrom(read: () => boolean): void {
      readiness = read;
    },
    eventLoopDelayMax: new Gauge({
      name: `${NS}_event_loop_delay_max_seconds`,
      help: 'Worst event-loop delay since the process started.',
      registers: [registry],
    }),
    setGatewayState(state: GatewayStateName): void {
      for (const s of GATEWAY_STATES) m.gatewayState.set({ state: s }, s === state ? 1 : 0);
    },
  };
  m.leaderIsActive.set(0);
  m.vtepConfigOwnerConflict.set(0);
  m.hybridNodesConfigured.set(0);
  m.setGatewayState('initialising');
  return m;
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;
