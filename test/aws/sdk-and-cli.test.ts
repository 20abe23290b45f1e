// The real tools, unchanged, pointed at the stand-in the standard way:
// @aws-sdk/client-ec2 through AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL and
// env credentials, and the AWS CLI (skipped, with the reason logged, where
// it is not installed).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DescribeRouteTablesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { createEc2Client, ensureRoutes } from '../../effects/aws/index.js';
import { startEc2StandIn, type Ec2StandIn } from '../../lab/ec2/index.js';
import { CIDRS, CREDENTIALS, FAST_RETRY, GW_A, GW_B, REGION, TABLES, allPointAt, seedTables, targets } from './fixture.js';

const run = promisify(execFile);
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

/** Env for the SDK / CLI: static test credentials, no config files, no IMDS. */
function isolatedEnv(): void {
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_CONFIG_FILE: join(scratch, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
}

/** Refuses, before it leaves, any request not addressed to 127.0.0.1 (should the SDK ignore the env, nothing reaches AWS). */
function localOnly(ec2: EC2Client): EC2Client {
  ec2.middlewareStack.add(
    (next) => async (args) => {
      const host = (args.request as { hostname?: string }).hostname;
      if (host !== '127.0.0.1') throw new Error(`test guard: the SDK addressed ${host ?? '?'} instead of the stand-in`);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'localOnlyGuard' },
  );
  return ec2;
}

describe('@aws-sdk/client-ec2 3.1169.0 reads the endpoint from the environment', () => {
  it('AWS_ENDPOINT_URL_EC2', async () => {
    isolatedEnv();
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
    isolatedEnv();
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

async function awsCliVersion(): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run('aws', ['--version'], { timeout: 30_000 });
    return (stdout || stderr).trim();
  } catch {
    return undefined;
  }
}
const cli = await awsCliVersion();
if (cli === undefined) process.stderr.write('test/aws: skipping the AWS CLI test: `aws` is not installed (scripts/setup.sh installs Debian\'s awscli)\n');

describe.skipIf(cli === undefined)(`the AWS CLI (${cli ?? 'absent'})`, () => {
  const aws = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run('aws', ['ec2', ...args, '--endpoint-url', standIn.url, '--region', REGION, '--output', 'json'], {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: scratch,
          AWS_ACCESS_KEY_ID: 'AKIDCLITEST000000000',
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          AWS_CONFIG_FILE: join(scratch, 'no-config'),
          AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials'),
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_MAX_ATTEMPTS: '1',
          AWS_PAGER: '',
        },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

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
