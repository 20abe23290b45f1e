// The lab's EC2 + IMDS stand-in: one HTTP server speaking the EC2 Query
// protocol (what @aws-sdk/client-ec2 and the AWS CLI send, unchanged), and one
// IMDSv2 server per instance. It keeps the route tables and tells listeners
// of every route change, so the lab can mirror them into a "VPC router"
// namespace's kernel routes (next hop = the ENI's private IP).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listen } from '../listen.js';
import { FAULT_STATUS, Faults, requestLimitMessage } from './faults.js';
import { imdsHandler, type ImdsCall } from './imds.js';
import {
  ACCOUNT_ID,
  Ec2Fault,
  Ec2World,
  checkMaxResults,
  type InstanceSpec,
  type NetworkInterface,
  type PageRequest,
  type RouteChange,
  type RouteTable,
  type RouteTableSpec,
  type SecurityGroup,
  type SecurityGroupSpec,
} from './model.js';
import { resolveEc2Behaviour, type Ec2Behaviour, type Ec2BehaviourOverrides, type Ec2ProfileName } from './profile.js';
import { errorXml, filterParams, itemSet, listParam, successXml, type Params } from './protocol.js';
import type { Clock } from './throttle.js';

export interface Ec2StandInOptions {
  /** Address to listen on (default 127.0.0.1; the lab passes its control namespace's address). */
  readonly host?: string;
  /** EC2 API port (default 0: any free port). */
  readonly port?: number;
  readonly instances: readonly (InstanceSpec & { readonly imdsPort?: number })[];
  readonly routeTables: readonly RouteTableSpec[];
  /** Security groups the interfaces name (securityGroupIds); default none. */
  readonly securityGroups?: readonly SecurityGroupSpec[];
  /** Refuse requests without a SigV4 Authorization header (default true). The signature itself is not verified. */
  readonly requireSignature?: boolean;
  /**
   * 'realistic' (EC2's throttling, pagination, route quota, call latency) or
   * 'ideal' (none of it: the stand-in as it always was). Default: LAB_EC2_PROFILE, else 'ideal'.
   */
  readonly profile?: Ec2ProfileName;
  /** Overrides on top of the profile, e.g. { routesPerTable: 50 } or { latency: false }. */
  readonly behaviour?: Ec2BehaviourOverrides;
  /** Time source of the token buckets (ms, monotonic; default performance.now). */
  readonly clock?: Clock;
  /** Random source of latency jitter and probabilistic faults (default Math.random). */
  readonly random?: () => number;
  /** How latency is waited (default setTimeout); tests inject one to observe delays. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface Ec2Call {
  readonly seq: number;
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  /** The access key id of the SigV4 Authorization header (the signature itself is not checked). */
  readonly accessKeyId?: string;
  /** The client's address (the TCP peer). */
  readonly remoteAddress?: string;
  /** performance.now() on arrival, before any injected delay (late delivery included). */
  readonly arrivedAt: number;
  status?: number;
  /** The error code sent, if the call failed. */
  code?: string;
  /** The token bucket the call drew from, when throttling is on. */
  bucket?: string;
  /** Latency waited before answering (profile + injected), ms. */
  delayMs?: number;
  /** Late delivery waited on arrival (Faults.lateDelivery), ms. */
  lateMs?: number;
}

/** `call` is the request that made the change (its access key, its arrival). */
export type RouteChangeListener = (change: RouteChange, call: Ec2Call) => void | Promise<void>;

export interface Ec2StandIn {
  /** EC2 endpoint, e.g. http://127.0.0.1:41234 (AWS_ENDPOINT_URL_EC2). */
  readonly url: string;
  /** IMDS endpoint of one instance (AWS_EC2_METADATA_SERVICE_ENDPOINT). */
  imdsUrl(instanceId: string): string;
  /** The live state: route tables, instances, interfaces (tests may read and seed it). */
  readonly state: Ec2World;
  readonly faults: Faults;
  /** The profile in force and its resolved behaviour (propagation is for the lab's VPC router to apply). */
  readonly profile: Ec2ProfileName;
  readonly behaviour: Ec2Behaviour;
  /** Every EC2 API call received, in arrival order. */
  readonly calls: Ec2Call[];
  /** Every IMDS request, per instance id. */
  readonly imdsCalls: ReadonlyMap<string, ImdsCall[]>;
  /** Forget every IMDS token of an instance (as an IMDS restart does): clients must take a new one. */
  revokeImdsTokens(instanceId: string): void;
  /**
   * Called after each route create/replace/delete, with the request that made
   * it, before the API answers (a returned promise is awaited; its failure is
   * logged, not sent to the caller).
   * Returns an unsubscribe function.
   */
  onRouteChange(listener: RouteChangeListener): () => void;
  close(): Promise<void>;
}

const MUTATING = new Set(['CreateRoute', 'ReplaceRoute', 'DeleteRoute', 'ModifyNetworkInterfaceAttribute']);
const ACTIONS = new Set([...MUTATING, 'DescribeRouteTables', 'DescribeNetworkInterfaces', 'DescribeSecurityGroups']);
const MAX_BODY = 1 << 20;

function routeXml(r: RouteTable['routes'] extends Map<string, infer R> ? R : never): Record<string, unknown> {
  return {
    destinationCidrBlock: r.destinationCidrBlock,
    ...(r.gatewayId !== undefined ? { gatewayId: r.gatewayId } : {}),
    ...(r.instanceId !== undefined ? { instanceId: r.instanceId, instanceOwnerId: ACCOUNT_ID } : {}),
    ...(r.networkInterfaceId !== undefined ? { networkInterfaceId: r.networkInterfaceId } : {}),
    state: r.state,
    origin: r.origin,
  };
}

function tableXml(t: RouteTable): Record<string, unknown> {
  return {
    routeTableId: t.routeTableId,
    vpcId: t.vpcId,
    ownerId: ACCOUNT_ID,
    routeSet: itemSet([...t.routes.values()].map(routeXml)),
    associationSet: '',
    propagatingVgwSet: '',
    tagSet: '',
  };
}

function securityGroupXml(g: SecurityGroup): Record<string, unknown> {
  return {
    ownerId: ACCOUNT_ID,
    groupId: g.groupId,
    groupName: g.groupName,
    groupDescription: g.groupName,
    vpcId: g.vpcId,
    ipPermissions: itemSet(
      g.ingress.map((r) => ({
        ipProtocol: r.protocol,
        ...(r.fromPort !== undefined ? { fromPort: r.fromPort } : {}),
        ...(r.toPort !== undefined ? { toPort: r.toPort } : {}),
        groups: '',
        ipRanges: itemSet(r.cidrs.map((c) => ({ cidrIp: c }))),
        ipv6Ranges: '',
        prefixListIds: '',
      })),
    ),
    ipPermissionsEgress: '',
  };
}

function eniXml(n: NetworkInterface, groupNames: ReadonlyMap<string, string>): Record<string, unknown> {
  return {
    networkInterfaceId: n.networkInterfaceId,
    subnetId: n.subnetId,
    vpcId: n.vpcId,
    availabilityZone: n.availabilityZone,
    description: '',
    ownerId: ACCOUNT_ID,
    requesterManaged: false,
    status: 'in-use',
    macAddress: n.macAddress,
    privateIpAddress: n.privateIpAddress,
    sourceDestCheck: n.sourceDestCheck,
    interfaceType: 'interface',
    groupSet: itemSet(n.securityGroupIds.map((id) => ({ groupId: id, groupName: groupNames.get(id) ?? id }))),
    attachment: {
      attachmentId: `eni-attach-${n.networkInterfaceId.slice(4)}`,
      instanceId: n.instanceId,
      instanceOwnerId: ACCOUNT_ID,
      deviceIndex: n.deviceIndex,
      networkCardIndex: 0,
      status: 'attached',
      attachTime: '2026-01-01T00:00:00.000Z',
      deleteOnTermination: n.deviceIndex === 0,
    },
    privateIpAddressesSet: { item: [{ privateIpAddress: n.privateIpAddress, primary: true }] },
    ipv6AddressesSet: '',
    tagSet: '',
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Ec2Fault('RequestEntityTooLarge', 'Request body too large', 413));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startEc2StandIn(options: Ec2StandInOptions): Promise<Ec2StandIn> {
  const host = options.host ?? '127.0.0.1';
  const { profile, ...behaviour } = resolveEc2Behaviour(options.profile, options.behaviour);
  const world = new Ec2World(options.instances, options.routeTables, { routesPerTable: behaviour.routesPerTable });
  for (const g of options.securityGroups ?? []) world.addSecurityGroup(g);
  const faults = new Faults({
    throttling: behaviour.throttling,
    latency: behaviour.latency,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  const calls: Ec2Call[] = [];
  const listeners = new Set<RouteChangeListener>();
  const requireSignature = options.requireSignature ?? true;

  const handle = async (params: Params, call: Ec2Call): Promise<Record<string, unknown>> => {
    const action = params.get('Action') ?? '';
    const p = (k: string): string | undefined => params.get(k);
    const notify = async (change: RouteChange): Promise<void> => {
      for (const l of listeners) {
        try {
          await l(change, call);
        } catch (err) {
          process.stderr.write(`ec2 stand-in: onRouteChange listener failed: ${String(err)}\n`);
        }
      }
    };
    // Ideal profile: MaxResults / NextToken are ignored and everything is returned.
    const pageOf = (): PageRequest => {
      if (!behaviour.pagination) return {};
      const maxResults = checkMaxResults(action, p('MaxResults'));
      const nextToken = p('NextToken');
      return { ...(maxResults !== undefined ? { maxResults } : {}), ...(nextToken !== undefined && nextToken !== '' ? { nextToken } : {}) };
    };
    switch (action) {
      case 'DescribeRouteTables': {
        const page = world.describeRouteTablesPage(listParam(params, 'RouteTableId'), filterParams(params), pageOf());
        return { routeTableSet: itemSet(page.items.map(tableXml)), ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) };
      }
      case 'DescribeNetworkInterfaces': {
        const page = world.describeNetworkInterfacesPage(listParam(params, 'NetworkInterfaceId'), filterParams(params), pageOf());
        return { networkInterfaceSet: itemSet(page.items.map((n) => eniXml(n, new Map([...world.securityGroups].map(([id, g]) => [id, g.groupName]))))), ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) };
      }
      case 'DescribeSecurityGroups':
        return { securityGroupInfo: itemSet(world.describeSecurityGroups(listParam(params, 'GroupId')).map(securityGroupXml)) };
      case 'CreateRoute':
      case 'ReplaceRoute': {
        if (p('DestinationIpv6CidrBlock') !== undefined || p('DestinationPrefixListId') !== undefined) {
          throw new Ec2Fault('UnsupportedOperation', 'The lab stand-in models IPv4 destination CIDR blocks only');
        }
        const args = {
          routeTableId: p('RouteTableId'),
          cidr: p('DestinationCidrBlock'),
          networkInterfaceId: p('NetworkInterfaceId'),
          instanceId: p('InstanceId'),
          gatewayId: p('GatewayId'),
        };
        await notify(action === 'CreateRoute' ? world.createRoute(args) : world.replaceRoute(args));
        return { return: true };
      }
      case 'DeleteRoute':
        if (p('DestinationIpv6CidrBlock') !== undefined || p('DestinationPrefixListId') !== undefined) {
          throw new Ec2Fault('UnsupportedOperation', 'The lab stand-in models IPv4 destination CIDR blocks only');
        }
        await notify(world.deleteRoute({ routeTableId: p('RouteTableId'), cidr: p('DestinationCidrBlock') }));
        return { return: true };
      case 'ModifyNetworkInterfaceAttribute': {
        const others = [...params.keys()].filter((k) => !['Action', 'Version', 'NetworkInterfaceId', 'SourceDestCheck.Value', 'DryRun'].includes(k));
        if (others.length > 0) throw new Ec2Fault('UnsupportedOperation', `The lab stand-in models SourceDestCheck only (got ${others.join(', ')})`);
        if (p('SourceDestCheck.Value') === undefined) throw new Ec2Fault('MissingParameter', 'The request must contain an attribute to modify');
        world.modifySourceDestCheck(p('NetworkInterfaceId'), p('SourceDestCheck.Value'));
        return { return: true };
      }
      default:
        throw new Ec2Fault('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  };

  const api = createServer((req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const arrivedAt = performance.now();
    let call: Ec2Call | undefined;
    const reply = (status: number, xml: string, code?: string): void => {
      if (call) {
        call.status = status;
        if (code !== undefined) call.code = code;
      }
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId });
      res.end(xml);
    };
    void (async () => {
      try {
        const body = await readBody(req);
        const url = new URL(req.url ?? '/', 'http://ec2');
        const form = req.method === 'POST' ? new URLSearchParams(body) : url.searchParams;
        const params = new Map<string, string>(form);
        const action = params.get('Action') ?? '';
        const accessKeyId = /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? '')?.[1];
        const remoteAddress = req.socket.remoteAddress;
        call = {
          seq: calls.length + 1,
          action,
          params: Object.fromEntries(params),
          arrivedAt,
          ...(accessKeyId !== undefined ? { accessKeyId } : {}),
          ...(remoteAddress !== undefined ? { remoteAddress } : {}),
        };
        calls.push(call);
        if (requireSignature && !/^AWS4-HMAC-SHA256 Credential=\S+/.test(req.headers.authorization ?? '')) {
          throw new Ec2Fault('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);
        }
        if (action === '') throw new Ec2Fault('MissingAction', 'The request must contain the parameter Action', 400);
        if (!ACTIONS.has(action)) throw new Ec2Fault('InvalidAction', `The action ${action} is not valid for this web service.`, 400);
        if (params.get('Version') === undefined) throw new Ec2Fault('MissingParameter', 'The request must contain the parameter Version', 400);
        const outcome = await faults.apply(action, params, { ...(remoteAddress !== undefined ? { address: remoteAddress } : {}), ...(accessKeyId !== undefined ? { accessKeyId } : {}) });
        if (outcome.bucket !== undefined) call.bucket = outcome.bucket;
        if (outcome.delayMs > 0) call.delayMs = outcome.delayMs;
        if (outcome.lateMs > 0) call.lateMs = outcome.lateMs;
        const failure = outcome.failure;
        if (failure) {
          const message =
            failure.message ??
            (failure.code === 'UnauthorizedOperation'
              ? `You are not authorized to perform this operation. User: arn:aws:iam::${ACCOUNT_ID}:user/lab is not authorized to perform: ec2:${action} because no identity-based policy allows the ec2:${action} action`
              : failure.code === 'AccessDenied'
                ? `User: arn:aws:iam::${ACCOUNT_ID}:user/lab is not authorized to perform: ec2:${action}`
                : failure.code === 'RequestLimitExceeded'
                  ? requestLimitMessage(ACCOUNT_ID, action)
                  : `We encountered an internal error. Please try again. (${failure.code})`);
          throw new Ec2Fault(failure.code, message, failure.status ?? FAULT_STATUS[failure.code] ?? 400);
        }
        if (params.get('DryRun') === 'true') {
          throw new Ec2Fault('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
        }
        const out = await handle(params, call);
        reply(200, successXml(action, requestId, out));
      } catch (err) {
        if (err instanceof Ec2Fault) reply(err.status, errorXml(err.code, err.message, requestId), err.code);
        else reply(500, errorXml('InternalError', 'We encountered an internal error. Please try again.', requestId), 'InternalError');
      }
    })();
  });

  const imdsCalls = new Map<string, ImdsCall[]>();
  const imdsServers = new Map<string, { server: Server; url: string }>();
  const imdsTokens = new Map<string, Map<string, number>>();
  const servers: Server[] = [api];
  try {
    const { port } = await listen(api, host, options.port ?? 0);
    for (const spec of options.instances) {
      const instance = world.instances.get(spec.instanceId);
      if (!instance) continue;
      const log: ImdsCall[] = [];
      imdsCalls.set(spec.instanceId, log);
      const tokens = new Map<string, number>();
      imdsTokens.set(spec.instanceId, tokens);
      const server = createServer(imdsHandler(instance, log, tokens));
      servers.push(server);
      const { port: p } = await listen(server, host, spec.imdsPort ?? 0);
      imdsServers.set(spec.instanceId, { server, url: urlOf(host, p) });
    }
    const closeAll = (): Promise<void> =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      ).then(() => undefined);
    return {
      url: urlOf(host, port),
      imdsUrl(instanceId) {
        const s = imdsServers.get(instanceId);
        if (!s) throw new Error(`no instance ${instanceId} in the EC2 stand-in`);
        return s.url;
      },
      state: world,
      faults,
      profile,
      behaviour,
      calls,
      imdsCalls,
      revokeImdsTokens(instanceId) {
        imdsTokens.get(instanceId)?.clear();
      },
      onRouteChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      close: closeAll,
    };
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
}
