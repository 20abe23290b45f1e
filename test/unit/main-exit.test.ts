// The process boundary: bad configuration stops the gateway at start with exit
// code 2 and one line per problem naming the value; --help exits 0.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function run(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'runtime/main.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('gateway process start-up', () => {
  it('exits 2 naming each bad value', () => {
    const r = run(['--node-ip', '198.18.0.300'], { VPC_CIDR: '198.18.0.0/16', POD_CIDRS: '198.19.0.0/16', ROUTE_TABLE_IDS: 'rtb-nothex00' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('config: invalid --node-ip "198.18.0.300": not an IPv4 address');
    expect(r.stderr).toContain('config: invalid ROUTE_TABLE_IDS "rtb-nothex00"');
  });

  it('--help prints every flag and exits 0', () => {
    const r = run(['--help'], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--leader-election-renew-deadline');
    expect(r.stdout).toContain('env ROUTE_TABLE_IDS');
  });

  it('--help names the cleanup subcommand', () => {
    expect(run(['--help'], {}).stdout).toContain('cleanup [flags]');
  });
});

describe('cleanup subcommand start-up', () => {
  it('cleanup --help prints its flags and exits 0', () => {
    const r = run(['cleanup', '--help'], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: eks-hybrid-gateway cleanup [flags]');
    expect(r.stdout).toContain('--dry-run');
    expect(r.stdout).toContain('env ROUTE_TABLE_IDS');
  });

  it('exits 2 naming a bad value, a missing one, or a gateway-only flag', () => {
    const r = run(['cleanup'], { POD_CIDRS: '198.19.0.0/33' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('config: invalid POD_CIDRS "198.19.0.0/33"');
    expect(r.stderr).toContain('config: missing --route-table-ids / ROUTE_TABLE_IDS: it is required');
    const g = run(['cleanup', '--vxlan-mtu=1450'], { POD_CIDRS: '198.19.0.0/16', ROUTE_TABLE_IDS: 'rtb-0000000a' });
    expect(g.code).toBe(2);
    expect(g.stderr).toContain("Unknown option '--vxlan-mtu'");
  });
});
