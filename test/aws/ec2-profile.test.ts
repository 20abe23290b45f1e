// The stand-in's profiles and overrides (what the lab's --profile will pick),
// and the realistic per-call latency, observed through an injected sleep.
import { afterEach, describe, expect, it } from 'vitest';
import { DescribeRouteTablesCommand, ReplaceRouteCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { createEc2Client } from '../../effects/aws/index.js';
import { EC2_PROFILES, EC2_THROTTLING, ec2ProfileFromEnv, resolveEc2Behaviour, startEc2StandIn, type Ec2StandIn, type Ec2StandInOptions } from '../../lab/ec2/index.js';
import { CIDRS, CREDENTIALS, GW_A, GW_B, REGION, TABLES, seedTables } from './fixture.js';

describe('resolveEc2Behaviour', () => {
  it('realistic: throttling, pagination, route quota, latency and propagation on; ideal: all off', () => {
    const r = resolveEc2Behaviour('realistic');
    expect(r).toMatchObject({ profile: 'realistic', throttling: EC2_THROTTLING, pagination: true, routesPerTable: 500, latency: { ms: 30, jitterMs: 30 }, propagation: { ms: 500, jitterMs: 500 } });
    expect(resolveEc2Behaviour('ideal')).toEqual({ profile: 'ideal', ...EC2_PROFILES.ideal });
  });

  it('overrides replace a key; throttling and latency merge one level deep', () => {
    const r = resolveEc2Behaviour('realistic', { propagation: false, throttling: { mutating: { capacity: 2, refillPerSecond: 1 } }, latency: { actions: { ReplaceRoute: { ms: 200 } } } });
    expect(r.propagation).toBe(false);
    expect(r.throttling).toEqual({ ...EC2_THROTTLING, mutating: { capacity: 2, refillPerSecond: 1 } });
    expect(r.latency).toEqual({ ms: 30, jitterMs: 30, actions: { ReplaceRoute: { ms: 200 } } });
    // An ideal profile with one realistic behaviour switched on.
    expect(resolveEc2Behaviour('ideal', { throttling: {} }).throttling).toEqual(EC2_THROTTLING);
  });

  it('without a profile: LAB_EC2_PROFILE, else ideal; unknown names and bad values are refused', () => {
    const saved = process.env.LAB_EC2_PROFILE;
    try {
      delete process.env.LAB_EC2_PROFILE;
      expect(resolveEc2Behaviour().profile).toBe('ideal');
      process.env.LAB_EC2_PROFILE = 'realistic';
      expect(resolveEc2Behaviour().profile).toBe('realistic');
      expect(resolveEc2Behaviour('ideal').profile).toBe('ideal'); // an explicit option wins
      process.env.LAB_EC2_PROFILE = 'chaotic';
      expect(() => ec2ProfileFromEnv()).toThrow(/LAB_EC2_PROFILE: unknown EC2 profile "chaotic"/);
    } finally {
      if (saved === undefined) delete process.env.LAB_EC2_PROFILE;
      else process.env.LAB_EC2_PROFILE = saved;
    }
    expect(() => resolveEc2Behaviour('fast')).toThrow(/want realistic or ideal/);
    expect(() => resolveEc2Behaviour('realistic', { latency: { ms: -1 } })).toThrow(/latency/);
    expect(() => resolveEc2Behaviour('realistic', { propagation: { ms: 10, jitterMs: Number.NaN } })).toThrow(/propagation/);
  });
});

let standIn: Ec2StandIn | undefined;
let ec2: EC2Client | undefined;
afterEach(async () => {
  ec2?.destroy();
  await standIn?.close();
  standIn = undefined;
  ec2 = undefined;
});

async function start(extra: Partial<Ec2StandInOptions>): Promise<{ s: Ec2StandIn; c: EC2Client; slept: number[] }> {
  const slept: number[] = [];
  standIn = await startEc2StandIn({ instances: [GW_A, GW_B], routeTables: seedTables(), sleep: (ms) => (slept.push(ms), Promise.resolve()), ...extra });
  ec2 = createEc2Client({ region: REGION, endpoint: standIn.url, credentials: CREDENTIALS });
  return { s: standIn, c: ec2, slept };
}

describe('per-call latency', () => {
  it('realistic: every answer (errors too) waits ms + random × jitter; per-action overrides; injected latency adds up', async () => {
    const draws = [0, 0.5, 0.999];
    let i = 0;
    const { s, c, slept } = await start({ profile: 'realistic', random: () => draws[i++ % draws.length] as number, behaviour: { latency: { ms: 30, jitterMs: 20, actions: { ReplaceRoute: { ms: 80 } } } } });
    await c.send(new DescribeRouteTablesCommand({}));
    await c.send(new DescribeRouteTablesCommand({}));
    await c.send(new ReplaceRouteCommand({ RouteTableId: TABLES[1], DestinationCidrBlock: CIDRS[0], NetworkInterfaceId: GW_A.eni }));
    await expect(c.send(new DescribeRouteTablesCommand({ RouteTableIds: ['rtb-0000dead'] }))).rejects.toMatchObject({ name: 'InvalidRouteTableID.NotFound' });
    s.faults.latency(100, ['DescribeRouteTables']);
    await c.send(new DescribeRouteTablesCommand({}));
    expect(slept.map((x) => Math.round(x * 10) / 10)).toEqual([30, 40, 80, 30, 140]);
    expect(s.calls.map((x) => x.delayMs !== undefined)).toEqual([true, true, true, true, true]);
  });

  it('ideal: no latency at all', async () => {
    const { c, slept } = await start({ profile: 'ideal' });
    await c.send(new DescribeRouteTablesCommand({}));
    expect(slept).toEqual([]);
  });

  it('the stand-in reports the profile it runs', async () => {
    const { s } = await start({ profile: 'realistic', behaviour: { routesPerTable: 50 } });
    expect(s.profile).toBe('realistic');
    expect(s.behaviour.routesPerTable).toBe(50);
    expect(s.state.routesPerTable).toBe(50);
  });
});
