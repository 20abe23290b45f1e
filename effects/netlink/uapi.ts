// The kernel's numbers the data plane reads and writes, once: address
// families, message layouts and attribute types of <linux/rtnetlink.h>
// (rtmsg, RTA_*), <linux/nexthop.h> (nhmsg, NHA_*) and <linux/neighbour.h>
// (ndmsg, NDA_*, NUD_*, NTF_*). wire.ts encodes with them, entries.ts parses
// with them.

export const AF_INET = 2;
export const AF_BRIDGE = 7;

/** Fixed headers: nlmsghdr, rtmsg, nhmsg, ndmsg. */
export const NLMSG_HDRLEN = 16;
export const RTMSG_LEN = 12;
export const NHMSG_LEN = 8;
export const NDMSG_LEN = 12;

export const RT_TABLE_MAIN = 254;
/** rtm_table when the table id does not fit its byte: the id is in RTA_TABLE. */
export const RT_TABLE_COMPAT = 252;
export const RTPROT_KERNEL = 2;
export const RTN_UNICAST = 1;
export const RTNH_F_ONLINK = 4;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_NOWHERE = 255;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_MULTIPATH = 9;
export const RTA_TABLE = 15;
export const RTA_VIA = 18;
export const RTA_ENCAP = 22;
export const RTA_NH_ID = 30;

export const NHA_ID = 1;
export const NHA_GROUP = 2;
export const NHA_BLACKHOLE = 4;
export const NHA_OIF = 5;
export const NHA_GATEWAY = 6;
export const NHA_ENCAP = 8;
export const NHA_FDB = 11;

export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_PORT = 6;
export const NDA_VNI = 7;
export const NDA_IFINDEX = 8;
export const NUD_PERMANENT = 0x80;
export const NTF_SELF = 0x02;
