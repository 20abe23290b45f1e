// The real tools, unchanged, pointed at the stand-in the standard way:
// @aws-sdk/client-ec2 through AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL and
// env credentials, and the AWS CLI (skipped, with the reason logged, where
// it is not installed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DescribeRouteTablesCommand } from '@aws-sdk/client-ec2';
import { createEc2Client, ensureRoutes } from '../../effects/aws/index.js';
import { startEc2StandIn, type Ec2StandIn } from '../../lab/ec2/index.js';
import { awsCli, awsCliVersion, isolatedSdkEnv, localOnly } from './sdk-env.js';
import { CIDRS, CREDENTIALS, FAST_RETRY, GW_A, GW_B, REGION, TABLES, allPointAt, seedTables, targets } from './fixture.js';

let standIn: Ec2StandIn;
let scratch: string;
const saved = { ...process.env };

beforeAll(async () => {
  standIn = await startEc2StandIn({ instances: [GW_A, GW_B], routeTables: seedTables() });
  scratch = mkdtempSync(join(tmpdir(), 'aws-test-'));
});
afterAll(async () => {
  await standIn.close();
  rmSync(scratch, { recursive: true, force: true });
});
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe('@aws-sdk/client-ec2 3.1169.0 reads the endpoint from the environment', () => {
  it('AWS_ENDPOINT_URL_EC2', async () => {
    isolatedSdkEnv(scratch);
    process.env.AWS_ENDPOINT_URL_EC2 = standIn.url;
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9'; // the service-specific one wins
    const ec2 = localOnly(createEc2Client({ region: REGION })); // no endpoint, no credentials given
    try {
      const before = standIn.calls.length;
      const out = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [TABLES[0]] }));
      expect(out.RouteTables?.[0]?.RouteTableId).toBe(TABLES[0]);
      expect(standIn.calls.slice(before).map((c) => c.accessKeyId)).toEqual([CREDENTIALS.accessKeyId]);
    } finally {
      ec2.destroy();
    }
  });

  it('AWS_ENDPOINT_URL, driving a whole ensureRoutes run', async () => {
    isolatedSdkEnv(scratch);
    delete process.env.AWS_ENDPOINT_URL_EC2;
    process.env.AWS_ENDPOINT_URL = standIn.url;
    const ec2 = localOnly(createEc2Client({ region: REGION }));
    try {
      const result = await ensureRoutes({ ec2, routeTableIds: [...TABLES], cidrs: [...CIDRS], networkInterfaceId: GW_A.eni, retry: FAST_RETRY });
      expect(result.ok).toBe(true);
      expect(targets(standIn)).toEqual(allPointAt(GW_A.eni));
    } finally {
      ec2.destroy();
    }
  });
});

const cli = await awsCliVersion();
if (cli === undefined) process.stderr.write('test/aws: skipping the AWS CLI test: `aws` is not installed (scripts/setup.sh installs Debian\'s awscli)\n');

describe.skipIf(cli === undefined)(`the AWS CLI (${cli ?? 'absent'})`, () => {
  const aws = awsCli('ec2', () => standIn.url, REGION, () => scratch);

  it('describes, replaces, creates and modifies, and gets EC2 errors back', async () => {
    const described = await aws('describe-route-tables', '--route-table-ids', TABLES[1]);
    expect(described.stderr).toBe('');
    const tables = (JSON.parse(described.stdout) as { RouteTables: Array<{ RouteTableId: string; Routes: Array<{ DestinationCidrBlock?: string; NetworkInterfaceId?: string }> }> }).RouteTables;
    expect(tables[0]?.RouteTableId).toBe(TABLES[1]);

    expect((await aws('replace-route', '--route-table-id', TABLES[1], '--destination-cidr-block', CIDRS[0], '--network-interface-id', GW_B.eni)).code).toBe(0);
    expect(standIn.state.routeTarget(TABLES[1], CIDRS[0])).toBe(GW_B.eni);

    const exists = await aws('create-route', '--route-table-id', TABLES[1], '--destination-cidr-block', CIDRS[0], '--network-interface-id', GW_B.eni);
    expect(exists.code).not.toBe(0);
    expect(exists.stderr).toContain('(RouteAlreadyExists)');

    const enis = await aws('describe-network-interfaces', '--filters', `Name=addresses.private-ip-address,Values=${GW_B.privateIp}`);
    expect((JSON.parse(enis.stdout) as { NetworkInterfaces: Array<{ NetworkInterfaceId: string }> }).NetworkInterfaces.map((n) => n.NetworkInterfaceId)).toEqual([GW_B.eni]);

    expect((await aws('modify-network-interface-attribute', '--network-interface-id', GW_A.eni, '--no-source-dest-check')).code).toBe(0);
    expect(standIn.state.interfaces.get(GW_A.eni)?.sourceDestCheck).toBe(false);
    expect(standIn.calls.filter((c) => c.accessKeyId === 'AKIDCLITEST000000000').length).toBeGreaterThanOrEqual(5);
  });
});
