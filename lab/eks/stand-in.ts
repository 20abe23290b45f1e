// The lab's Amazon EKS stand-in: one HTTP server speaking EKS's REST-JSON
// protocol for DescribeCluster (`GET /clusters/{name}`), which is what doctor's
// aws.remotePodNetworks check, @aws-sdk/client-eks and `aws eks
// describe-cluster` send, unchanged. It holds the lab's clusters and their
// EKS Hybrid Nodes remote networks; it models no write (CreateCluster,
// UpdateClusterConfig), so it validates nothing about those networks.
// Every behaviour and its source: lab/README.md, "How EKS behaves".
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen } from '../listen.js';
import { ACCOUNT_ID } from '../ec2/model.js';

export interface EksClusterSpec {
  readonly name: string;
  /** remoteNetworkConfig.remoteNodeNetworks[0].cidrs; empty or absent: Hybrid Nodes not enabled (no remoteNetworkConfig). */
  readonly remoteNodeNetworks?: readonly string[];
  /** remoteNetworkConfig.remotePodNetworks[0].cidrs; empty or absent: none. */
  readonly remotePodNetworks?: readonly string[];
  /** Kubernetes version (default 1.33). */
  readonly version?: string;
}

/** A cluster as the stand-in keeps it; tests edit the networks in place. */
export interface EksCluster {
  readonly name: string;
  remoteNodeNetworks: string[];
  remotePodNetworks: string[];
  readonly version: string;
  readonly createdAtSeconds: number;
}

export interface EksStandInOptions {
  /** Address to listen on (default 127.0.0.1; the lab passes its control namespace's address). */
  readonly host?: string;
  /** Port (default 0: any free port). */
  readonly port?: number;
  /** The one Region this endpoint serves (EKS endpoints are Regional). */
  readonly region: string;
  readonly clusters: readonly EksClusterSpec[];
  /** Refuse requests without a SigV4 Authorization header scoped to this Region and service eks (default true). The signature itself is not verified. */
  readonly requireSignature?: boolean;
}

export interface EksCall {
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  /** The operation the request names (DescribeCluster), or '' for a route the stand-in does not serve. */
  readonly operation: string;
  /** The access key id of the SigV4 Authorization header. */
  readonly accessKeyId?: string;
  readonly remoteAddress?: string;
  status?: number;
  /** The error code sent (x-amzn-errortype), if the call failed. */
  code?: string;
}

export interface EksStandIn {
  /** EKS endpoint, e.g. http://127.0.0.1:41234 (AWS_ENDPOINT_URL_EKS). */
  readonly url: string;
  readonly region: string;
  /** The clusters by name (tests may edit them, add or delete some). */
  readonly clusters: Map<string, EksCluster>;
  /** Every request received, in arrival order. */
  readonly calls: EksCall[];
  /** Makes the caller's IAM policy lack these actions (e.g. ['DescribeCluster']): AccessDeniedException until allow(). */
  deny(operations: readonly string[]): void;
  allow(): void;
  close(): Promise<void>;
}

class EksFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const SERVICE = 'eks';

/** The lab's clusters were all created on 2026-01-01 (createdAt is epoch seconds in REST-JSON). */
const CREATED_AT = Date.UTC(2026, 0, 1) / 1000;

function clusterFromSpec(s: EksClusterSpec): EksCluster {
  return { name: s.name, remoteNodeNetworks: [...(s.remoteNodeNetworks ?? [])], remotePodNetworks: [...(s.remotePodNetworks ?? [])], version: s.version ?? '1.33', createdAtSeconds: CREATED_AT };
}

export function clusterArn(region: string, name: string): string {
  return `arn:aws:eks:${region}:${ACCOUNT_ID}:cluster/${name}`;
}

/** DescribeCluster's `cluster` as EKS sends it: the fields a client reads here, not every field the API has. */
function clusterJson(region: string, c: EksCluster): Record<string, unknown> {
  const remote: Record<string, unknown> = {};
  if (c.remoteNodeNetworks.length > 0) remote.remoteNodeNetworks = [{ cidrs: c.remoteNodeNetworks }];
  if (c.remotePodNetworks.length > 0) remote.remotePodNetworks = [{ cidrs: c.remotePodNetworks }];
  return {
    name: c.name,
    arn: clusterArn(region, c.name),
    createdAt: c.createdAtSeconds,
    version: c.version,
    endpoint: `https://${c.name.toLowerCase()}.gr7.${region}.eks.amazonaws.com`,
    roleArn: `arn:aws:iam::${ACCOUNT_ID}:role/eks-cluster-role`,
    kubernetesNetworkConfig: { serviceIpv4Cidr: '172.20.0.0/16', ipFamily: 'ipv4' },
    status: 'ACTIVE',
    platformVersion: 'eks.1',
    accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
    ...(Object.keys(remote).length > 0 ? { remoteNetworkConfig: remote } : {}),
    tags: {},
  };
}

/** Credential=<key>/<date>/<region>/<service>/aws4_request of a SigV4 Authorization header. */
function credentialScope(authorization: string): { accessKeyId: string; region: string; service: string } | undefined {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization);
  return m ? { accessKeyId: m[1] as string, region: m[2] as string, service: m[3] as string } : undefined;
}

export async function startEksStandIn(options: EksStandInOptions): Promise<EksStandIn> {
  const host = options.host ?? '127.0.0.1';
  const { region } = options;
  const requireSignature = options.requireSignature ?? true;
  const clusters = new Map(options.clusters.map((s) => [s.name, clusterFromSpec(s)]));
  const calls: EksCall[] = [];
  const denied = new Set<string>();

  const describe = (name: string): Record<string, unknown> => {
    if (denied.has('DescribeCluster')) {
      throw new EksFault('AccessDeniedException', `User: arn:aws:iam::${ACCOUNT_ID}:user/lab is not authorized to perform: eks:DescribeCluster on resource: ${clusterArn(region, name)}`, 403);
    }
    const c = clusters.get(name);
    if (c === undefined) throw new EksFault('ResourceNotFoundException', `No cluster found for name: ${name}.`, 404);
    return { cluster: clusterJson(region, c) };
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://eks');
    const route = req.method === 'GET' ? /^\/clusters\/([^/]+)$/.exec(url.pathname) : null;
    const scope = credentialScope(req.headers.authorization ?? '');
    const remoteAddress = req.socket.remoteAddress;
    const call: EksCall = {
      seq: calls.length + 1,
      method: req.method ?? '',
      path: url.pathname,
      operation: route ? 'DescribeCluster' : '',
      ...(scope !== undefined ? { accessKeyId: scope.accessKeyId } : {}),
      ...(remoteAddress !== undefined ? { remoteAddress } : {}),
    };
    calls.push(call);
    const reply = (status: number, body: unknown, code?: string): void => {
      call.status = status;
      if (code !== undefined) call.code = code;
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-amzn-requestid': requestId,
        ...(code !== undefined ? { 'x-amzn-errortype': code } : {}),
      });
      res.end(JSON.stringify(body));
    };
    req.resume(); // DescribeCluster has no body; drain whatever came
    req.on('end', () => {
      try {
        if (requireSignature) {
          if (scope === undefined) throw new EksFault('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
          if (scope.service !== SERVICE) throw new EksFault('InvalidSignatureException', `Credential should be scoped to correct service: '${SERVICE}'. `, 403);
          if (scope.region !== region) throw new EksFault('InvalidSignatureException', 'Credential should be scoped to a valid region. ', 403);
        }
        if (!route) throw new EksFault('UnknownOperationException', `The lab's EKS stand-in serves DescribeCluster (GET /clusters/{name}) only, not ${req.method ?? ''} ${url.pathname}`, 404);
        reply(200, describe(decodeURIComponent(route[1] as string)));
      } catch (err) {
        if (err instanceof EksFault) reply(err.status, { message: err.message }, err.code);
        else reply(500, { message: 'An internal error occurred.' }, 'ServerException');
      }
    });
  });

  const { port } = await listen(server, host, options.port ?? 0);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    region,
    clusters,
    calls,
    deny(operations) {
      for (const o of operations) denied.add(o);
    },
    allow() {
      denied.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
