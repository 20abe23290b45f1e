// Shared world for the AWS tests: two gateway instances in one VPC (gw-a has
// a second interface), three route tables, four pod CIDRs — all addresses
// from 198.18.0.0/15 and the TEST-NETs; every socket on 127.0.0.1.
import { afterEach, beforeEach } from 'vitest';
import { createEc2Client } from '../../effects/aws/index.js';
import type { RetryPolicy } from '../../effects/aws/index.js';
import { startEc2StandIn, type Ec2StandIn, type Ec2StandInOptions, type InstanceSpec, type RouteTableSpec } from '../../lab/ec2/index.js';
import type { EC2Client } from '@aws-sdk/client-ec2';

// Never let the SDK fall back to the real IMDS (169.254.169.254) for credentials.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export const VPC = 'vpc-0123456789abcdef0';
export const VPC_CIDR = '198.18.0.0/16';
export const REGION = 'us-west-2';
export const CREDENTIALS = { accessKeyId: 'AKIDLABTEST0000000000', secretAccessKey: 'lab-secret-key-not-real' } as const;

/** gw-a's second interface (device 1). */
export const GW_A_SECOND = { eni: 'eni-0a0000000000000b1', mac: '02:00:c6:12:01:0a', privateIp: '198.18.1.10', subnetId: 'subnet-0aaaa11110000000b', vpcId: VPC } as const;

export const GW_A = {
  instanceId: 'i-0aaaaaaaaaaaaaaa1',
  region: REGION,
  az: 'us-west-2-lax-1a', // a Local Zone: trimming the AZ would give the wrong region
  eni: 'eni-0a00000000000000a',
  mac: '02:00:c6:12:00:0a',
  privateIp: '198.18.0.10',
  subnetId: 'subnet-0aaaa11110000000a',
  vpcId: VPC,
  secondaryInterfaces: [GW_A_SECOND],
} satisfies InstanceSpec;

export const GW_B = {
  instanceId: 'i-0bbbbbbbbbbbbbbb2',
  region: REGION,
  az: 'us-west-2b',
  eni: 'eni-0b00000000000000b',
  mac: '02:00:c6:12:00:0b',
  privateIp: '198.18.0.11',
  subnetId: 'subnet-0bbbb22220000000a',
  vpcId: VPC,
  sourceDestCheck: false,
} satisfies InstanceSpec;

/** An interface in another VPC: pointing a route at it is a validation error. */
export const OTHER_VPC_HOST = {
  instanceId: 'i-0ccccccccccccccc3',
  region: REGION,
  az: 'us-west-2c',
  eni: 'eni-0c00000000000000c',
  mac: '02:00:c6:13:00:0c',
  privateIp: '198.19.0.12',
  subnetId: 'subnet-0cccc33330000000a',
  vpcId: 'vpc-0fedcba9876543210',
} satisfies InstanceSpec;

export const TABLES = ['rtb-0000000a', 'rtb-0000000b', 'rtb-0000000c'] as const;
export const CIDRS = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '198.19.128.0/17'] as const;

/** Mixed start: table a has none of the routes, b points them all at gw-b, c is half right (one blackholed, one to an IGW). */
export function seedTables(): RouteTableSpec[] {
  return [
    { routeTableId: TABLES[0], vpcId: VPC, vpcCidr: VPC_CIDR },
    { routeTableId: TABLES[1], vpcId: VPC, vpcCidr: VPC_CIDR, routes: CIDRS.map((c) => ({ destinationCidrBlock: c, networkInterfaceId: GW_B.eni })) },
    {
      routeTableId: TABLES[2],
      vpcId: VPC,
      vpcCidr: VPC_CIDR,
      routes: [
        { destinationCidrBlock: CIDRS[0], networkInterfaceId: GW_A.eni },
        { destinationCidrBlock: CIDRS[1], networkInterfaceId: GW_A.eni },
        { destinationCidrBlock: CIDRS[2], networkInterfaceId: GW_A.eni, state: 'blackhole' },
        { destinationCidrBlock: CIDRS[3], gatewayId: 'igw-0123456789abcdef0' },
      ],
    },
  ];
}

/** Small, jittered backoffs so retry tests stay fast. */
export const FAST_RETRY: RetryPolicy = { retries: 12, minTimeoutMs: 2, maxTimeoutMs: 20, factor: 2, randomize: true };

/** A stand-in started with `options` and an SDK client for it. */
async function startStandIn(options: Ec2StandInOptions): Promise<{ standIn: Ec2StandIn; ec2: EC2Client }> {
  const standIn = await startEc2StandIn(options);
  const ec2 = createEc2Client({ region: REGION, endpoint: standIn.url, credentials: CREDENTIALS });
  return { standIn, ec2 };
}

export async function startWorld(tables: RouteTableSpec[] = seedTables()): Promise<{ standIn: Ec2StandIn; ec2: EC2Client }> {
  return startStandIn({ instances: [GW_A, GW_B, OTHER_VPC_HOST], routeTables: tables });
}

export interface World {
  standIn: Ec2StandIn;
  ec2: EC2Client;
}

/** A fresh world for every test of the calling file (started before, closed after each). */
export function useWorld(onStart: (world: World) => void): void {
  let world: World | undefined;
  beforeEach(async () => {
    world = await startWorld();
    onStart(world);
  });
  afterEach(async () => {
    await closeWorld(world);
    world = undefined;
  });
}

async function closeWorld(world: World | undefined): Promise<void> {
  world?.ec2.destroy();
  await world?.standIn.close();
}

/**
 * For files whose tests each start their own stand-in: returns `start(options)`, which starts one
 * and a client for it; both are closed after the test.
 */
export function useStandIn(): (options: Ec2StandInOptions) => Promise<{ s: Ec2StandIn; c: EC2Client }> {
  let world: World | undefined;
  afterEach(async () => {
    await closeWorld(world);
    world = undefined;
  });
  return async (options) => {
    world = await startStandIn(options);
    return { s: world.standIn, c: world.ec2 };
  };
}

export const WRITES = new Set(['ReplaceRoute', 'CreateRoute', 'DeleteRoute', 'ModifyNetworkInterfaceAttribute']);

export function writeCalls(standIn: Ec2StandIn): Ec2StandIn['calls'] {
  return standIn.calls.filter((c) => WRITES.has(c.action));
}

/** Every table × CIDR target as the stand-in holds it. */
export function targets(standIn: Ec2StandIn): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const t of TABLES) for (const c of CIDRS) out[`${t} ${c}`] = standIn.state.routeTarget(t, c);
  return out;
}

export function allPointAt(eni: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of TABLES) for (const c of CIDRS) out[`${t} ${c}`] = eni;
  return out;
}
