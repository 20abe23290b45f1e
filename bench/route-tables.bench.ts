// Repointing 3 route tables × 4 pod CIDRs from the old leader's ENI to ours,
// with 50 ms injected EC2 API latency, against the baseline of one API call's
// latency measured in the same run. Target: under 2× one call.
// Everything runs on 127.0.0.1 against the lab's EC2 stand-in with the real SDK.
import { DescribeRouteTablesCommand, ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import { createEc2Client, ensureRoutes, type EnsureRoutesOptions } from '../effects/aws/index.js';
import { startEc2StandIn } from '../lab/ec2/index.js';

const LATENCY_MS = 50;
const RUNS = 7;
const VPC = 'vpc-0123456789abcdef0';
const OLD = 'eni-0b00000000000000b';
const NEW = 'eni-0a00000000000000a';
const TABLES = ['rtb-0000000a', 'rtb-0000000b', 'rtb-0000000c'];
const CIDRS = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '198.19.128.0/17'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export default async function bench(): Promise<void> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const standIn = await startEc2StandIn({
    instances: [
      { instanceId: 'i-0aaaaaaaaaaaaaaa1', region: 'us-west-2', az: 'us-west-2a', eni: NEW, mac: '02:00:c6:12:00:0a', privateIp: '198.18.0.10', subnetId: 'subnet-0a', vpcId: VPC },
      { instanceId: 'i-0bbbbbbbbbbbbbbb2', region: 'us-west-2', az: 'us-west-2b', eni: OLD, mac: '02:00:c6:12:00:0b', privateIp: '198.18.0.11', subnetId: 'subnet-0b', vpcId: VPC },
    ],
    routeTables: TABLES.map((routeTableId) => ({ routeTableId, vpcId: VPC, vpcCidr: '198.18.0.0/16', routes: CIDRS.map((c) => ({ destinationCidrBlock: c, networkInterfaceId: OLD })) })),
  });
  const ec2 = createEc2Client({ region: 'us-west-2', endpoint: standIn.url, credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' } });
  const pointAllAt = (eni: string): void => {
    for (const routeTableId of TABLES) for (const cidr of CIDRS) standIn.state.replaceRoute({ routeTableId, cidr, networkInterfaceId: eni });
  };
  const base: EnsureRoutesOptions = { ec2, routeTableIds: TABLES, cidrs: CIDRS, networkInterfaceId: NEW };
  try {
    // Warm up connections and the SDK without latency.
    await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: TABLES }));
    await ensureRoutes(base);
    standIn.faults.latency(LATENCY_MS);

    const oneCall: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const t0 = performance.now();
      await ec2.send(new ReplaceRouteCommand({ RouteTableId: TABLES[0], DestinationCidrBlock: CIDRS[0], NetworkInterfaceId: NEW }));
      oneCall.push(performance.now() - t0);
    }
    const call = median(oneCall);
    const oneDescribe: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const t0 = performance.now();
      await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: TABLES }));
      oneDescribe.push(performance.now() - t0);
    }
    const describeCall = median(oneDescribe);

    const measure = async (opts: Partial<EnsureRoutesOptions>, runs = RUNS, start = OLD): Promise<{ ms: number; calls: number }> => {
      const times: number[] = [];
      let calls = 0;
      for (let i = 0; i < runs; i += 1) {
        pointAllAt(start);
        const before = standIn.calls.length;
        const t0 = performance.now();
        const r = await ensureRoutes({ ...base, ...opts });
        times.push(performance.now() - t0);
        calls = standIn.calls.length - before;
        if (!r.ok) throw new Error(`bench run failed: ${JSON.stringify(r.counts)}`);
      }
      return { ms: median(times), calls };
    };

    const describeFirst = await measure({});
    const writeFirst = await measure({ strategy: 'write-first' });
    const drift = await measure({}, RUNS, NEW);
    const sequential = await measure({ maxConcurrentWrites: 1 }, 2);

    const row = (name: string, r: { ms: number; calls: number }): string =>
      `${name.padEnd(66)} ${r.ms.toFixed(1).padStart(8)} ms  ${(r.ms / call).toFixed(2).padStart(5)}× one call  (${r.calls} API calls)`;
    process.stdout.write(
      [
        `injected EC2 API latency: ${LATENCY_MS} ms; medians of ${RUNS} runs (sequential: 2 runs)`,
        `${'baseline: one ReplaceRoute call'.padEnd(66)} ${call.toFixed(1).padStart(8)} ms   1.00× one call`,
        `${'one DescribeRouteTables call (3 tables)'.padEnd(66)} ${describeCall.toFixed(1).padStart(8)} ms  ${(describeCall / call).toFixed(2).padStart(5)}× one call`,
        row('repoint 3×4, describe-first (1 describe ∥ ENI check, 12 ∥ writes)', describeFirst),
        row('repoint 3×4, write-first (12 ∥ ReplaceRoute)', writeFirst),
        row('drift check 3×4, all correct (describe only)', drift),
        row('repoint 3×4, one route at a time (maxConcurrentWrites 1)', sequential),
        `target < 2× one call: describe-first ${describeFirst.ms / call < 2 ? 'MET' : 'MISSED'} (${(describeFirst.ms / call).toFixed(2)}×), write-first ${writeFirst.ms / call < 2 ? 'MET' : 'MISSED'} (${(writeFirst.ms / call).toFixed(2)}×)`,
        'describe-first is two round trips by design (describe, then the writes): its floor is one describe + one write;',
        'write-first (one round trip) is the failover path: the new leader knows every route points at the old ENI.',
        `concurrency speed-up over one-at-a-time: ${(sequential.ms / describeFirst.ms).toFixed(1)}× (describe-first), ${(sequential.ms / writeFirst.ms).toFixed(1)}× (write-first)`,
        '',
      ].join('\n'),
    );
  } finally {
    ec2.destroy();
    await standIn.close();
  }
}
