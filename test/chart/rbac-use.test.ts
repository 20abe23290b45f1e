// The chart's RBAC is exactly what the gateway uses (issue 14). A lab run
// (lab/lab.ts, lab/scenarios.ts: the real gateway processes in network
// namespaces against the Kubernetes stand-in) drives both gateways through
// every behaviour that talks to Kubernetes; the stand-in's own request records,
// attributed to the gateways by client address (each lab process has its own
// namespace and IP), say what they asked for; `helm template` of the chart, with
// the lab's namespace and Lease name, says what they may. The mapping and the
// comparison are test/support/rbac-use.ts (unit tests: rbac-model.test.ts).
// Asserted:
// - every request is allowed where the chart's roles apply: namespaced objects
//   by the Role in the release namespace (or a ClusterRole), Events of
//   cluster-scoped objects by the Role in rbac.clusterEventsNamespace,
//   cluster-scoped objects only by the ClusterRole;
// - every granted (group, resource, verb, resourceName) was used at least once;
// - no cluster-wide grant is used only where a Role already reaches.
// The same holds for the uninstall hook's ServiceAccount: the run ends as
// `helm uninstall` does, with `cleanup` run from the control namespace (its own
// address) while both gateways run, then the gateways stopped.
// Needs root (namespaces); skipped otherwise.
//
// To cover a new behaviour, append a step to STEPS (it starts from the lab as
// the previous step left it: converged, both gateways running, traffic on hyb-1
// and hyb-2; the uninstall steps stay last: after them no gateway leads) and grant
// what it needs in the chart: the comparison reads the grants from helm, so
// nothing else changes.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ciliumNode, CONTROL_IP, gateway, GATEWAYS, LEASE_NAME, LEASE_NAMESPACE, POD_CIDRS, REGION, ROUTE_TABLE_IDS, type GatewayName } from '../../lab/addresses.js';
import type { KObj } from '../../lab/control-plane.js';
import { Lab, until } from '../../lab/lab.js';
import { createNetnsRun } from '../../lab/netns.js';
import { checkTrace, measureFailover, measureNodeAdd, measureNodeRemove } from '../../lab/scenarios.js';
import { AUTO_SETS, chartDir, findDoc, Helm, parseManifests, RELEASE, type KubeDoc } from './helm.js';
import { compareRbac, describeAttrs, describeItem, formatUses, grantsFor, usesOf, type Grant, type RecordedRequest, type RbacComparison } from '../support/rbac-use.js';

const root = process.getuid?.() === 0;
const other = (g: GatewayName): GatewayName => (g === 'gw-a' ? 'gw-b' : 'gw-a');

interface EventObj extends KObj {
  involvedObject?: { kind?: string; name?: string; namespace?: string; uid?: string };
  reason?: string;
  message?: string;
  count?: number;
  source?: { host?: string };
}

async function eventsIn(lab: Lab, namespace: string): Promise<EventObj[]> {
  return lab.ask<EventObj[]>({ op: 'list', plural: 'events', namespace });
}

/** The gateway's Events on the pod of `name`'s current process (its POD_UID). */
async function podEvents(lab: Lab, name: GatewayName, reason: string): Promise<EventObj[]> {
  const uid = lab.gateways[name].podUids.at(-1);
  return (await eventsIn(lab, LEASE_NAMESPACE)).filter((e) => e.involvedObject?.kind === 'Pod' && e.involvedObject.name === name && e.involvedObject.uid === uid && e.reason === reason);
}

interface Step {
  readonly name: string;
  run(lab: Lab, state: RunState): Promise<void>;
}

interface RunState {
  /** The gateway that led first; it leads a second time in the same process (its Event is updated then). */
  firstLeader?: GatewayName;
  /** The malformed CiliumNode's uid, for the check on its Events. */
  malformedUid?: string;
}

/** The uninstall hook's pod name; cleanup holds the Lease as cleanup/<it>. */
const CLEANUP_POD = `${RELEASE}-cleanup-x7k2p`;

/** `eks-hybrid-gateway cleanup` as the hook Job runs it, from the control namespace (address CONTROL_IP). */
async function cleanup(lab: Lab, args: readonly string[] = []): Promise<{ code: number | null; out: string }> {
  const child = lab.run.spawnNode(lab.ns.ctl, 'runtime/main.ts', ['cleanup', ...args], {
    POD_CIDRS,
    ROUTE_TABLE_IDS: ROUTE_TABLE_IDS.join(','),
    LEADER_ELECTION_ID: LEASE_NAME,
    POD_NAMESPACE: LEASE_NAMESPACE,
    POD_NAME: CLEANUP_POD,
    KUBECONFIG: lab.info.kubeconfig,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL_EC2: lab.info.ec2Url,
    AWS_ACCESS_KEY_ID: 'AKIDLABCLEANUP000001',
    AWS_SECRET_ACCESS_KEY: 'lab-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, out };
}

const BAD_NODE = 'rbac-bad-node';

// The lab run. Each step's Kubernetes calls are whatever the gateways make of it; nothing here
// lists what they should call.
const STEPS: readonly Step[] = [
  {
    name: 'both gateways start; one leads (Lease created, CiliumVTEPConfig created, Event on its pod)',
    async run(lab, state) {
      for (const g of GATEWAYS) lab.startGateway(g.name);
      state.firstLeader = await lab.waitConverged(60_000);
      for (const n of lab.hybrid.values()) await lab.startTraffic(n);
    },
  },
  {
    name: 'the leader frozen (SIGSTOP) past its lease: the standby takes over; thawed, the old leader stands by',
    async run(lab, state) {
      const frozen = state.firstLeader!;
      await lab.signalGateway(frozen, 'SIGSTOP');
      try {
        await until(`${other(frozen)} to lead while ${frozen} is frozen`, async () => ((await lab.leaderEverywhere()) === other(frozen) ? true : undefined), 30_000, 100);
      } finally {
        await lab.signalGateway(frozen, 'SIGCONT');
      }
      expect(await lab.waitConverged(60_000)).toBe(other(frozen));
    },
  },
  {
    name: 'node loss of the leader: the first leader takes over again in the same process (its LeaderElected Event is updated); the lost node comes back',
    async run(lab, state) {
      const first = state.firstLeader!;
      const r = await measureFailover(lab, 'node-loss');
      expect([r.from, r.to]).toEqual([other(first), first]);
      // The trace tells the outage (the lab runs the default retry period, 1 s).
      const t = checkTrace(r, 1000);
      expect(t.ok, t.line).toBe(true);
      await until(`${first}'s LeaderElected Event updated (count 2)`, async () => ((await podEvents(lab, first, 'LeaderElected')).some((e) => (e.count ?? 0) >= 2) ? true : undefined), 10_000, 100);
    },
  },
  {
    name: 'SIGTERM of the leader: it releases the Lease, the standby takes over; the old leader restarts',
    async run(lab, state) {
      const r = await measureFailover(lab, 'sigterm');
      expect(r.from).toBe(state.firstLeader);
      const t = checkTrace(r, 1000);
      expect(t.ok, t.line).toBe(true);
      await until(`a LeadershipLost Event of ${r.from}`, async () => {
        const lost = (await eventsIn(lab, LEASE_NAMESPACE)).filter((e) => e.involvedObject?.kind === 'Pod' && e.involvedObject.name === r.from && e.reason === 'LeadershipLost');
        return lost.length > 0 ? true : undefined;
      }, 10_000, 100);
    },
  },
  {
    name: 'a malformed CiliumNode: each gateway skips it with an Event in "default", and updates that Event when the node is skipped for the same reason again',
    async run(lab, state) {
      const reasonA = ciliumNode(BAD_NODE, 'not-an-ip', ['198.19.201.0/24']);
      const reasonB = ciliumNode(BAD_NODE, '203.0.113.201', ['198.19.202.0/33']);
      const hosts = GATEWAYS.map((g) => lab.gatewayEnv(g.name).NODE_NAME!);
      const onBad = async (): Promise<EventObj[]> => (await eventsIn(lab, 'default')).filter((e) => e.involvedObject?.kind === 'CiliumNode' && e.involvedObject.name === BAD_NODE);
      /** Per gateway (source.host), its Event with this message, once each gateway has one with count ≥ min. */
      const perHost = async (message: string | undefined, min: number): Promise<EventObj[] | undefined> => {
        const es = await onBad();
        const found = hosts.map((h) => es.find((e) => e.source?.host === h && (message === undefined || e.message === message) && (e.count ?? 0) >= min));
        return found.every((e) => e !== undefined) ? found : undefined;
      };
      await lab.ask({ op: 'put', plural: 'ciliumnodes', body: reasonA });
      state.malformedUid = (await lab.ask<KObj>({ op: 'get', plural: 'ciliumnodes', name: BAD_NODE })).metadata?.uid;
      const first = await until('an Event on the malformed node from each gateway', () => perHost(undefined, 1), 20_000, 100);
      const messageA = first[0]!.message!;
      expect(first.map((e) => e.message)).toEqual([messageA, messageA]);
      await lab.ask({ op: 'put', plural: 'ciliumnodes', body: reasonB });
      await until('an Event for the other reason from each gateway', async () => ((await onBad()).filter((e) => e.message !== messageA).length >= hosts.length ? true : undefined), 20_000, 100);
      await lab.ask({ op: 'put', plural: 'ciliumnodes', body: reasonA });
      await until('each gateway’s first Event updated (count 2)', () => perHost(messageA, 2), 20_000, 100);
      await lab.ask({ op: 'remove', plural: 'ciliumnodes', name: BAD_NODE });
      await lab.waitConverged(30_000);
    },
  },
  {
    name: 'a hybrid node added, then removed',
    async run(lab) {
      await measureNodeAdd(lab, 3);
      await measureNodeRemove(lab, 'hyb-3');
      await lab.waitConverged(30_000);
    },
  },
  {
    name: "another installation's released Lease named as the CiliumVTEPConfig's owner: the leader reads it (in its namespace) and takes the object back",
    async run(lab) {
      const OLD = { namespace: 'team-old', name: 'hybrid-gateway-leader' };
      await lab.ask({
        op: 'put',
        plural: 'leases',
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: OLD.name, namespace: OLD.namespace },
          spec: { holderIdentity: '', leaseDurationSeconds: 3, renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 4 },
        },
      });
      const cur = await lab.ask<KObj>({ op: 'get', plural: 'ciliumvtepconfigs', name: 'hybrid-gateway' });
      const ownerOf = (o: KObj | null): string | undefined => (o?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.['eks-hybrid-gateway/owner-lease'];
      expect(ownerOf(cur)).toBe(`${LEASE_NAMESPACE}/${LEASE_NAME}`);
      await lab.ask({ op: 'put', plural: 'ciliumvtepconfigs', body: { ...cur, metadata: { ...cur.metadata, annotations: { 'eks-hybrid-gateway/owner-lease': `${OLD.namespace}/${OLD.name}` } } } });
      await until(
        'the leader to claim the CiliumVTEPConfig back',
        async () => (ownerOf(await lab.ask<KObj | null>({ op: 'get', plural: 'ciliumvtepconfigs', name: 'hybrid-gateway' })) === `${LEASE_NAMESPACE}/${LEASE_NAME}` ? true : undefined),
        20_000,
        100,
      );
    },
  },
  // Append new steps above this one: the uninstall ends the run (after it no gateway leads).
  {
    name: "uninstall in Helm's order, the pre-delete hook first: cleanup runs while both gateways run; a dry run changes nothing; then the leader steps down, its routes and the CiliumVTEPConfig go and stay gone; the Job's retry finds nothing to do",
    async run(lab) {
      const leader = await lab.waitConverged(30_000);
      const dry = await cleanup(lab, ['--dry-run']);
      expect(dry.code, dry.out).toBe(0);
      expect(dry.out).toContain(`route ${ROUTE_TABLE_IDS[0]} ${POD_CIDRS} → ${gateway(leader).eni}: would be deleted`);
      expect(await lab.leaderEverywhere()).toBe(leader);
      const r = await cleanup(lab);
      expect(r.code, r.out).toBe(0);
      for (const t of ROUTE_TABLE_IDS) expect(r.out).toContain(`route ${t} ${POD_CIDRS} → ${gateway(leader).eni}: deleted`);
      expect(r.out).toContain(`CiliumVTEPConfig hybrid-gateway: deleted (owned by this installation's Lease ${LEASE_NAMESPACE}/${LEASE_NAME})`);
      expect((await lab.lease()).holder).toBe(`cleanup/${CLEANUP_POD}`);
      // Nothing comes back while the gateways stand by (several retry periods; the old leader's re-assert would be at once).
      await sleep(3000);
      const routes = await lab.ask<Record<string, Record<string, string>>>({ op: 'routes' });
      for (const t of ROUTE_TABLE_IDS) expect(routes[t]?.[POD_CIDRS], t).toBeUndefined();
      expect(await lab.ask<KObj | null>({ op: 'get', plural: 'ciliumvtepconfigs', name: 'hybrid-gateway' })).toBeNull();
      const again = await cleanup(lab);
      expect(again.code, again.out).toBe(0);
      expect(again.out).toContain('done: deleted 0 routes, left 0; CiliumVTEPConfig absent');
    },
  },
  {
    name: 'Helm deletes the Deployment: SIGTERM to both gateways (standing by: the Lease stays the hook’s); every watch ends',
    async run(lab) {
      for (const g of GATEWAYS) expect(await lab.signalGateway(g.name, 'SIGTERM')).toBe(0);
      expect((await lab.lease()).holder).toBe(`cleanup/${CLEANUP_POD}`);
      // The stand-in records an exchange when its connection closes: give the last ones a moment.
      await sleep(1000);
    },
  },
  {
    name: 'the Lease deleted by hand, a retried hook creates it (so no gateway could lead while it runs)',
    async run(lab) {
      await lab.ask({ op: 'remove', plural: 'leases', name: LEASE_NAME, namespace: LEASE_NAMESPACE });
      const r = await cleanup(lab);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain(`Lease ${LEASE_NAMESPACE}/${LEASE_NAME}: created, held by cleanup/${CLEANUP_POD}`);
    },
  },
];

describe.skipIf(!root)('the chart’s RBAC is what the gateways use (a lab run, the stand-in’s request records, helm template)', () => {
  let lab: Lab | undefined;
  let helm: Helm | undefined;
  let grants: Grant[] = [];
  let hookGrants: Grant[] = [];
  const state: RunState = {};
  const done: string[] = [];

  beforeAll(async () => {
    helm = new Helm();
    // Rendered for the lab's installation: its namespace (the gateways' POD_NAMESPACE) and Lease name.
    const r = await helm.run(['template', RELEASE, chartDir, '--namespace', LEASE_NAMESPACE, ...[...AUTO_SETS, `leaderElection.id=${LEASE_NAME}`].flatMap((s) => ['--set', s])]);
    if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
    const docs: KubeDoc[] = parseManifests(r.stdout);
    const sa = findDoc(docs, 'ServiceAccount', RELEASE);
    grants = grantsFor(docs, { namespace: sa.metadata.namespace ?? LEASE_NAMESPACE, name: sa.metadata.name });
    const hook = findDoc(docs, 'ServiceAccount', `${RELEASE}-cleanup`);
    hookGrants = grantsFor(docs, { namespace: hook.metadata.namespace ?? LEASE_NAMESPACE, name: hook.metadata.name });
    lab = await Lab.create({ run: createNetnsRun(), hybridNodes: 2 });
  }, 120_000);

  afterAll(async () => {
    await lab?.teardown();
    helm?.dispose();
  }, 60_000);

  for (const step of STEPS) {
    it(`step: ${step.name}`, async () => {
      expect(done, 'the steps before this one completed').toEqual(STEPS.slice(0, done.length).map((s) => s.name));
      await step.run(lab!, state);
      done.push(step.name);
    }, 180_000);
  }

  let comparison: { gateways: RbacComparison; hook: RbacComparison } | undefined;
  const comparisons = async (): Promise<{ gateways: RbacComparison; hook: RbacComparison }> => {
    if (comparison !== undefined) return comparison;
    expect(done, 'every step of the run completed').toEqual(STEPS.map((s) => s.name));
    const records = await lab!.ask<Array<RecordedRequest & { seq: number }>>({ op: 'kubeRequests' });
    expect(records[0]?.seq, 'the stand-in kept every request record of the run').toBe(1);
    const byIp = new Map<string, string>(GATEWAYS.map((g) => [g.ip, g.name]));
    const uses = usesOf(records, (r) => (r.remoteAddress === undefined ? undefined : byIp.get(r.remoteAddress)));
    console.info(`Kubernetes requests of the gateways (${uses.reduce((s, u) => s + u.count, 0)} of ${records.length} recorded):\n${formatUses(uses)}`);
    console.info(`granted by the chart:\n${grants.map((g) => `${g.role} rule ${g.ruleIndex}: ${JSON.stringify(g.rule)}`).join('\n')}`);
    // Only the cleanup runs talk to the API from the control namespace's address.
    const hookUses = usesOf(records, (r) => (r.remoteAddress === CONTROL_IP ? 'cleanup' : undefined));
    console.info(`Kubernetes requests of cleanup (the hook):\n${formatUses(hookUses)}`);
    comparison = { gateways: compareRbac(uses, grants), hook: compareRbac(hookUses, hookGrants) };
    return comparison;
  };
  const compared = async (): Promise<RbacComparison> => (await comparisons()).gateways;

  it('the uninstall hook: every request cleanup made is granted to its ServiceAccount, every grant was used, none is broader than used', async () => {
    const c = (await comparisons()).hook;
    expect(c.uses.length).toBeGreaterThan(0);
    expect(c.denied.map((u) => `${describeAttrs(u.attrs)} ×${u.count}, e.g. ${u.example}`)).toEqual([]);
    expect(c.unused.map(describeItem)).toEqual([]);
    expect(c.broaderThanUsed.map(describeItem)).toEqual([]);
  });

  it('both gateways were seen, and only through resource requests the chart or the cluster defaults cover', async () => {
    const c = await compared();
    for (const g of GATEWAYS) expect(c.uses.some((u) => u.by.includes(g.name)), `${g.name} made requests`).toBe(true);
    expect(c.denied.map((u) => `${describeAttrs(u.attrs)} ×${u.count} by ${u.by.join(',')}, e.g. ${u.example}`)).toEqual([]);
  });

  it('every granted group, resource, verb (and resourceName) was used at least once', async () => {
    const c = await compared();
    expect(c.unused.map(describeItem)).toEqual([]);
  });

  it('no cluster-wide grant is used only where a namespaced Role already reaches', async () => {
    const c = await compared();
    expect(c.broaderThanUsed.map(describeItem)).toEqual([]);
  });

  it('the Events name their objects by uid: each pod Event the pod the lab started (POD_UID), the CiliumNode Event the node', async () => {
    await compared();
    const pods = (await eventsIn(lab!, LEASE_NAMESPACE)).filter((e) => e.involvedObject?.kind === 'Pod');
    expect(pods.length).toBeGreaterThan(0);
    for (const e of pods) {
      const g = e.involvedObject!.name as GatewayName;
      expect(lab!.gateways[g]?.podUids, `${e.metadata?.name} (${e.reason})`).toContain(e.involvedObject!.uid);
    }
    const nodes = (await eventsIn(lab!, 'default')).filter((e) => e.involvedObject?.kind === 'CiliumNode' && e.involvedObject.name === BAD_NODE);
    expect(nodes.length).toBeGreaterThan(0);
    for (const e of nodes) expect(e.involvedObject!.uid).toBe(state.malformedUid);
  });
});
