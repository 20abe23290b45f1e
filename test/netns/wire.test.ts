// The hand-written message encoders (effects/netlink/wire.ts) produce what
// the netlink package's own formatters produce (modulo the trailing padding
// the package leaves out of nlmsg_len), so the kernel reads the same thing.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as nl from 'netlink';
import { neighMessage, routeMessage, RTM_DELNEIGH, RTM_NEWNEIGH, RTM_NEWROUTE, RTM_DELROUTE } from '../../effects/netlink/wire.js';
import { intToIPv4 } from '../../machines/domain/ipv4.js';
import { macNumber, macText, ourFdb, ourNeighbours, ourRoutes } from '../../effects/netlink/entries.js';

function viaPackage(type: number, flags: number, format: (out: nl.AttrStream) => void): Buffer {
  const out = new nl.AttrStream();
  format(out);
  const parts = nl.formatMessage({ type, flags, seq: 0, port: 0, data: out.bufs });
  let b = Buffer.concat(parts);
  if (b.length % 4 !== 0) b = Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]);
  b.writeUInt32LE(b.length, 0); // the package counts nlmsg_len without the final padding
  return b;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const ipBuf = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('wire encoders', () => {
  it('route messages match the package formatter', () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 32 }), u32, fc.integer({ min: 1, max: 1 << 20 }), fc.option(fc.integer({ min: 1, max: 1 << 20 }), { nil: undefined }), (dst, len, gw, oif, prio) => {
        const ours = routeMessage(RTM_NEWROUTE, 0x500, { dst, dstLen: len, gateway: gw, oif, priority: prio, table: 254, protocol: 4, scope: 0, type: 1, flags: 4 });
        const theirs = viaPackage(RTM_NEWROUTE, 0x500, (out) =>
          nl.rt.formatRouteMessage(
            {
              kind: 'route',
              data: { family: 2, dstLen: len, table: 254, protocol: 4, scope: 0, type: 1, flags: { __unknown: 4 } },
              attrs: { dst: ipBuf(dst), gateway: ipBuf(gw), oif, ...(prio !== undefined ? { priority: prio } : {}) },
            },
            out,
          ),
        );
        expect(ours.toString('hex')).toBe(theirs.toString('hex'));
      }),
      { numRuns: 200 },
    );
    const del = routeMessage(RTM_DELROUTE, 0, { dst: 0xc6120000, dstLen: 16, oif: 7, table: 254, protocol: 0, scope: 255, type: 0, flags: 0 });
    const pkg = viaPackage(RTM_DELROUTE, 0, (out) =>
      nl.rt.formatRouteMessage({ kind: 'route', data: { family: 2, dstLen: 16, table: 254, scope: 255 }, attrs: { dst: ipBuf(0xc6120000), oif: 7 } }, out),
    );
    expect(del.toString('hex')).toBe(pkg.toString('hex'));
    // A table id above 255 (the gateway's 8472): rtm_table RT_TABLE_COMPAT and the id in RTA_TABLE.
    const wide = routeMessage(RTM_NEWROUTE, 0x500, { dst: 0xc6126400, dstLen: 29, gateway: 0xc6121401, oif: 7, table: 8472, protocol: 4, scope: 0, type: 1, flags: 4 });
    const widePkg = viaPackage(RTM_NEWROUTE, 0x500, (out) =>
      nl.rt.formatRouteMessage(
        {
          kind: 'route',
          data: { family: 2, dstLen: 29, table: 252, protocol: 4, scope: 0, type: 1, flags: { __unknown: 4 } },
          attrs: { dst: ipBuf(0xc6126400), gateway: ipBuf(0xc6121401), oif: 7, table: 8472 },
        },
        out,
      ),
    );
    expect(wide.toString('hex')).toBe(widePkg.toString('hex'));
  });

  it('neighbour and FDB messages match the package formatter', () => {
    fc.assert(
      fc.property(fc.constantFrom(2, 7), fc.integer({ min: 1, max: 1 << 20 }), u32, fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.boolean(), (family, ifindex, dst, mac, withPort) => {
        const lladdr = Buffer.from(mac);
        const port = withPort ? Buffer.from([0x12, 0xb5]) : undefined;
        const ours = neighMessage(RTM_NEWNEIGH, 0x500, { family, ifindex, state: 0x80, flags: family === 7 ? 2 : 0, dst, lladdr, port });
        const theirs = viaPackage(RTM_NEWNEIGH, 0x500, (out) =>
          nl.rt.formatNeighborMessage(
            {
              kind: 'neighbor',
              data: { family, ifindex, state: { permanent: true }, flags: family === 7 ? { self: true } : {} },
              attrs: { dst: ipBuf(dst), lladdr, ...(port !== undefined ? { port } : {}) },
            },
            out,
          ),
        );
        expect(ours.toString('hex')).toBe(theirs.toString('hex'));
      }),
      { numRuns: 200 },
    );
    const del = neighMessage(RTM_DELNEIGH, 0, { family: 2, ifindex: 3, state: 0, flags: 0, dst: 0xc6130005 });
    const pkg = viaPackage(RTM_DELNEIGH, 0, (out) =>
      nl.rt.formatNeighborMessage({ kind: 'neighbor', data: { family: 2, ifindex: 3 }, attrs: { dst: ipBuf(0xc6130005) } }, out),
    );
    expect(del.toString('hex')).toBe(pkg.toString('hex'));
  });

  it('the dump parsers read back what the encoders wrote', () => {
    const asDump = (b: Buffer): nl.NetlinkMessage => ({ type: b.readUInt16LE(4), flags: 0, seq: 0, port: 0, data: b.subarray(16) });
    const route = routeMessage(RTM_NEWROUTE, 0, { dst: 0xc6126400, dstLen: 29, gateway: 0xc6131401, oif: 9, table: 254, protocol: 4, scope: 0, type: 1, flags: 4 });
    // In the main table on our device: an earlier version's route (legacy); on another device: not ours.
    expect(ourRoutes([asDump(route)], 9)).toEqual([
      { key: 0xc6126400 * 64 + 29, base: 0xc6126400, dstLen: 29, gateway: 0xc6131401, nhId: undefined, onlink: true, priority: 0, tos: 0, odd: false, table: 254, legacy: true },
    ]);
    expect(ourRoutes([asDump(route)], 8)).toEqual([]);
    // In the gateway's table (id in RTA_TABLE): ours whatever its device.
    const inTable = routeMessage(RTM_NEWROUTE, 0, { dst: 0xc6126400, dstLen: 29, nhId: 77, table: 8472, protocol: 110, scope: 0, type: 1, flags: 0 });
    expect(ourRoutes([asDump(inTable)], 8)).toEqual([
      { key: 0xc6126400 * 64 + 29, base: 0xc6126400, dstLen: 29, gateway: undefined, nhId: 77, onlink: false, priority: 0, tos: 0, odd: false, table: 8472, legacy: false },
    ]);
    const mac = Buffer.from('0200c6131401', 'hex');
    const neigh = neighMessage(RTM_NEWNEIGH, 0, { family: 2, ifindex: 9, state: 0x80, flags: 0, dst: 0xc6131401, lladdr: mac });
    expect(ourNeighbours([asDump(neigh)], 9).ours).toEqual([{ ip: 0xc6131401, mac: macNumber(mac), permanent: true }]);
    const zero = neighMessage(RTM_NEWNEIGH, 0, { family: 7, ifindex: 9, state: 0x80, flags: 2, dst: 0xc6131401, lladdr: Buffer.alloc(6) });
    const fdb = neighMessage(RTM_NEWNEIGH, 0, { family: 7, ifindex: 9, state: 0x80, flags: 2, dst: 0xc6131401, lladdr: mac });
    expect(ourFdb([asDump(zero), asDump(fdb)], 9)).toEqual([{ mac: macNumber(mac), dst: 0xc6131401, permanent: true, extra: {} }]);
    expect(macText(macNumber(mac))).toBe('02:00:c6:13:14:01');
    expect(intToIPv4(0xc6131401)).toBe('198.19.20.1'); // the address text the writes report
  });
});
