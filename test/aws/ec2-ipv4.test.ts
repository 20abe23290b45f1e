// The EC2 stand-in's own IPv4/CIDR parsing (lab/ec2/ipv4.ts), which decides
// what CreateRoute/ReplaceRoute accept as DestinationCidrBlock.
import { describe, expect, it } from 'vitest';
import { canonicalCidr, ipv4Number, ipv4Text } from '../../lab/ec2/ipv4.js';

describe('lab/ec2/ipv4.ts', () => {
  it('reads dotted quads: decimal octets 0..255, no leading zeros', () => {
    expect(ipv4Number('198.18.0.1')).toBe(0xc6120001);
    expect(ipv4Number('0.0.0.0')).toBe(0);
    expect(ipv4Number('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['198.18.0', '198.18.0.1.2', '198.18.0.256', '198.018.0.1', '198.18.0.-1', '198.18.0.x', '', ' 198.18.0.1', '198.18..1']) expect(ipv4Number(bad), bad).toBeUndefined();
    expect(ipv4Text(0xcb007100)).toBe('203.0.113.0');
  });

  it('accepts canonical CIDRs only (no host bits, prefix 0..32 without leading zeros)', () => {
    expect(canonicalCidr('198.19.0.0/16')).toBe('198.19.0.0/16');
    expect(canonicalCidr(' 198.19.0.0/16 ')).toBe('198.19.0.0/16');
    expect(canonicalCidr('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(canonicalCidr('192.0.2.1/32')).toBe('192.0.2.1/32');
    for (const bad of ['192.0.2.1/24', '198.19.0.0/33', '198.19.0.0/016', '198.19.0.0', '198.19.0.0/', '198.19.0.0/-1', '198.019.0.0/16', 'x/16']) expect(canonicalCidr(bad), bad).toBeUndefined();
  });
});
