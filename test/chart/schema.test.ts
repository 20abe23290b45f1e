// values.schema.json: a bad value fails `helm template` / `helm install` before
// anything renders, with a message that names the value (its JSON path) and,
// for strings, the bad text itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTO_SETS, chartDir, Helm, IMAGE_SET, MNG_SETS, NAMESPACE, RELEASE } from './helm.js';

let helm: Helm;
beforeAll(() => {
  helm = new Helm();
});
afterAll(() => {
  helm?.dispose();
});

/** Required values set to good ones, then the case's own --set (later --set wins). */
const withGood = (...sets: string[]): string[] => [...AUTO_SETS, ...sets];

// [case, --set values, the value's JSON path in the message, more text the message must hold]
const REJECTED: Array<[string, string[], string, string?]> = [
  ['non-CIDR vpcCIDR', withGood('vpcCIDR=not-a-cidr'), '/vpcCIDR', 'not-a-cidr'],
  ['vpcCIDR without a prefix length', withGood('vpcCIDR=10.0.0.0'), '/vpcCIDR', '10.0.0.0'],
  ['vpcCIDR prefix /33', withGood('vpcCIDR=10.0.0.0/33'), '/vpcCIDR', '10.0.0.0/33'],
  ['vpcCIDR octet 256', withGood('vpcCIDR=10.256.0.0/16'), '/vpcCIDR', '10.256.0.0/16'],
  ['vpcCIDR IPv6', withGood('vpcCIDR=fd00::/64'), '/vpcCIDR', 'fd00::/64'],
  ['nine VPC CIDRs (Cilium takes 8)', withGood(`vpcCIDR=${Array.from({ length: 9 }, (_, i) => `10.${i}.0.0/16`).join('\\,')}`), '/vpcCIDR'],
  ['a bad CIDR inside a vpcCIDR list', withGood('vpcCIDR={10.0.0.0/16,10.1.0.0/40}'), '/vpcCIDR/1', '10.1.0.0/40'],
  ['empty vpcCIDR', withGood('vpcCIDR='), '/vpcCIDR'],
  ['bad podCIDRs entry', withGood('podCIDRs=10.250.0.0/16\\,10.251.0.0'), '/podCIDRs', '10.251.0.0'],
  ['an empty item in a podCIDRs list', withGood('podCIDRs={}'), '/podCIDRs/0'],
  ['empty routeTableIDs', withGood('routeTableIDs='), '/routeTableIDs'],
  ['malformed rtb- id', withGood('routeTableIDs=rtb-xyz'), '/routeTableIDs', 'rtb-xyz'],
  ['rtb- id of the wrong length', withGood('routeTableIDs=rtb-0123456789'), '/routeTableIDs', 'rtb-0123456789'],
  ['a route table that is not a route table', withGood('routeTableIDs=rtb-0123456789abcdef0\\,subnet-0123456789abcdef0'), '/routeTableIDs', 'subnet-0123456789abcdef0'],
  ['VNI 0', withGood('vxlanVNI=0'), '/vxlanVNI', 'minimum'],
  ['VNI above 24 bits', withGood('vxlanVNI=16777216'), '/vxlanVNI', 'maximum'],
  ['VNI not a number', withGood('vxlanVNI=two'), '/vxlanVNI', 'want integer'],
  ['VNI not an integer', withGood('vxlanVNI=2.5'), '/vxlanVNI'],
  ['VXLAN MTU below IPv4 minimum', withGood('vxlanMTU=67'), '/vxlanMTU', 'minimum'],
  ['VXLAN MTU that no EC2 NIC carries (9001 − 50)', withGood('vxlanMTU=9001'), '/vxlanMTU', 'maximum'],
  ['VXLAN MTU not a number', withGood('vxlanMTU=jumbo'), '/vxlanMTU', 'want integer'],
  ['lease duration without a unit', withGood('leaderElection.leaseDuration=3'), '/leaderElection/leaseDuration'],
  ['lease duration in words', withGood('leaderElection.renewDeadline=two seconds'), '/leaderElection/renewDeadline', 'two seconds'],
  ['Lease name not a Kubernetes name', withGood('leaderElection.id=Hybrid_Leader'), '/leaderElection/id', 'Hybrid_Leader'],
  ['AWS region from an AZ', withGood('awsRegion=us-west-2a'), '/awsRegion', 'us-west-2a'],
  ['EKS cluster name with a dot', withGood('clusterName=prod.eu-west-1'), '/clusterName', 'prod.eu-west-1'],
  ['EKS cluster name over 100 characters', withGood(`clusterName=${'c'.repeat(101)}`), '/clusterName'],
  ['OTEL endpoint without a scheme', withGood('otel.endpoint=otel-collector:4318'), '/otel/endpoint', 'otel-collector:4318'],
  ['PodMonitor interval in words', withGood('podMonitor.interval=15 seconds'), '/podMonitor/interval', '15 seconds'],
  ['metrics port clashing with VXLAN', withGood('ports.metrics=8472'), '/ports/metrics'],
  ['failover alert threshold that is no bucket of the histogram', withGood('prometheusRule.failoverThresholdSeconds=4'), '/prometheusRule/failoverThresholdSeconds'],
  ['alert window in words', withGood('prometheusRule.errorsWindow=five minutes'), '/prometheusRule/errorsWindow', 'five minutes'],
  ['empty alert delay', withGood('prometheusRule.notReadyFor='), '/prometheusRule/notReadyFor'],
  ['scrape interval with days (the lease alerts add it up)', withGood('prometheusRule.scrapeInterval=1d'), '/prometheusRule/scrapeInterval', '1d'],
  ['alert selector that is not PromQL label matchers', withGood('prometheusRule.selector=hybrid-gateway'), '/prometheusRule/selector', 'hybrid-gateway'],
  ['runbook URL without a scheme', withGood('prometheusRule.runbookUrl=wiki/hybrid-gateway'), '/prometheusRule/runbookUrl', 'wiki/hybrid-gateway'],
  ['misspelled dashboards value', withGood('dashboards.enable=true'), "additional properties 'enable' not allowed"],
  ['zero shards', withGood('shards=0'), '/shards', 'minimum'],
  ['nine shards (at most 8: Cilium takes 8 endpoints)', withGood('shards=9'), '/shards', 'maximum'],
  ['a fractional shard count', withGood('shards=1.5'), '/shards', 'want integer'],
  ['a node pod CIDR mask size of 0', withGood('nodePodCIDRMaskSize=0'), '/nodePodCIDRMaskSize', 'minimum'],
  ['a node pod CIDR mask size past /32', withGood('nodePodCIDRMaskSize=33'), '/nodePodCIDRMaskSize', 'maximum'],
  ['zero replicas', withGood('replicas=0'), '/replicas', 'minimum'],
  ['unknown pull policy', withGood('image.pullPolicy=Sometimes'), '/image/pullPolicy'],
  ['image digest not sha256', withGood('image.digest=latest'), '/image/digest', 'latest'],
  ['NodeClass without role, subnets, security groups', withGood('autoMode.nodeClass.create=true'), '/autoMode/nodeClass/role'],
  ['NodePool requirement with a bad operator', withGood('autoMode.nodePool.requirements[0].key=karpenter.sh/capacity-type', 'autoMode.nodePool.requirements[0].operator=Equals'), '/autoMode/nodePool/requirements/0/operator'],
  ['misspelled top-level value', withGood('vpcCidr=10.0.0.0/16'), "additional properties 'vpcCidr' not allowed"],
  ['misspelled nested value', withGood('autoMode.enable=false'), "additional properties 'enable' not allowed"],
  ['autoMode.enabled not a boolean', withGood('autoMode.enabled=maybe'), '/autoMode/enabled', 'want boolean'],
  ['cleanupOnUninstall not a boolean', withGood('cleanupOnUninstall=maybe'), '/cleanupOnUninstall', 'want boolean'],
  ['doctor.rbac not a boolean', withGood('doctor.rbac=yes please'), '/doctor/rbac', 'want boolean'],
  ['misspelled doctor value', withGood('doctor.enabled=true'), "additional properties 'enabled' not allowed"],
  ['cleanup hook deadline too short to take the Lease and wait out the old leader', withGood('cleanup.activeDeadlineSeconds=10'), '/cleanup/activeDeadlineSeconds', 'minimum'],
];

describe('values.schema.json rejects bad values at helm template', () => {
  it.each(REJECTED)('%s', async (_name, sets, path, detail) => {
    const r = await helm.run(['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...sets.flatMap((s) => ['--set', s])]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe(''); // nothing rendered
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toContain(path.startsWith('/') ? `at '${path}'` : path);
    if (detail !== undefined) expect(r.stderr).toContain(detail);
  });

  it('an empty podCIDRs list (values file / --set-json)', async () => {
    // --set would win over --set-json: give the other required values only.
    const others = AUTO_SETS.filter((s) => !s.startsWith('podCIDRs='));
    const r = await helm.run(['template', RELEASE, chartDir, ...others.flatMap((s) => ['--set', s]), '--set-json', 'podCIDRs=[]']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("at '/podCIDRs': minItems");
  });

  it.each([['shards=2'], ['nodePodCIDRMaskSize=24']])('a string where an integer belongs (--set-string %s)', async (set) => {
    const r = await helm.run(['template', RELEASE, chartDir, ...withGood().flatMap((s) => ['--set', s]), '--set-string', set]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`at '/${set.split('=')[0]}': got string, want integer`);
  });

  it('missing required values: each one is named', async () => {
    const r = await helm.run(['template', RELEASE, chartDir, '--set', 'podCIDRs=10.250.0.0/16']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("at '/vpcCIDR'");
    expect(r.stderr).toContain("at '/routeTableIDs'");
    expect(r.stderr).not.toContain("at '/podCIDRs'");
  });

  it('also at helm install (client dry run: the same check, before any cluster access)', async () => {
    const r = await helm.run(['install', RELEASE, chartDir, '--dry-run=client', '--namespace', NAMESPACE, '--create-namespace', ...withGood('vpcCIDR=10.0.0.0/99').flatMap((s) => ['--set', s])]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("at '/vpcCIDR'");
    expect(r.stderr).toContain('10.0.0.0/99');
  });
});

describe('values.schema.json accepts the documented forms', () => {
  it.each([
    ['the reference install (auto mode)', AUTO_SETS],
    ['the reference install (managed node groups)', MNG_SETS],
    ['dual-stack VNI 9', withGood('vxlanVNI=9')],
    ['two shards', withGood('shards=2')],
    ['eight shards with /26 node pod CIDRs', withGood('shards=8', 'nodePodCIDRMaskSize=26')],
    ['eight VPC CIDRs', withGood(`vpcCIDR=${Array.from({ length: 8 }, (_, i) => `10.${i}.0.0/16`).join('\\,')}`)],
    ['lists for every list value', ['vpcCIDR={10.0.0.0/16}', 'podCIDRs={10.250.0.0/16,10.251.0.0/16}', 'routeTableIDs={rtb-01234567,rtb-0123456789abcdef0}', IMAGE_SET]],
    ['spaces after commas', withGood('podCIDRs=10.250.0.0/16\\, 10.251.0.0/16')],
    ['sub-second durations', withGood('leaderElection.leaseDuration=1500ms', 'leaderElection.renewDeadline=1s', 'leaderElection.retryPeriod=250ms')],
    ['no priority class, no PDB', withGood('priorityClassName=', 'podDisruptionBudget.enabled=false')],
    ['a numeric image tag', withGood('image.tag=1.2')],
    ['doctor’s RBAC on', withGood('doctor.rbac=true')],
    [
      'alerts and dashboard with their values',
      withGood('prometheusRule.enabled=true', 'prometheusRule.failoverThresholdSeconds=0.5', 'prometheusRule.selector=job="monitoring/gw"\\,cluster=~"prod-.*"', 'prometheusRule.scrapeInterval=15s', 'prometheusRule.errorsWindow=1h30m', 'prometheusRule.runbookUrl=https://runbooks.example.com/gw', 'dashboards.enabled=true', 'dashboards.namespace=monitoring'),
    ],
  ])('%s', async (_name, sets) => {
    const r = await helm.run(['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...sets.flatMap((s) => ['--set', s])]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
