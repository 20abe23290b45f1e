// The EC2 stand-in's in-memory world: instances with their network interfaces,
// and VPC route tables. Operations mirror the EC2 API actions the gateway uses
// and fail with the codes, messages and HTTP statuses EC2 itself returns.
import { canonicalCidr, ipv4Number } from './ipv4.js';

export const ACCOUNT_ID = '123456789012';

/** An error EC2 would return: code, message and the HTTP status it comes with. */
export class Ec2Fault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'Ec2Fault';
  }
}

export interface InterfaceSpec {
  /** eni-… */
  readonly eni: string;
  /** Lower-case colon-separated MAC, e.g. 02:00:c6:12:00:0a. */
  readonly mac: string;
  readonly privateIp: string;
  readonly subnetId: string;
  readonly vpcId: string;
  /** Default true, as on a fresh EC2 interface. */
  readonly sourceDestCheck?: boolean;
  /** Security groups of the interface (sg-…; defined with the stand-in's `securityGroups`). Default none. */
  readonly securityGroupIds?: readonly string[];
}

/** One inbound rule: protocol ('udp', 'tcp', '-1' for all), port range, and source CIDRs. */
export interface IngressRule {
  readonly protocol: string;
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly cidrs: readonly string[];
}

export interface SecurityGroupSpec {
  readonly groupId: string;
  readonly groupName?: string;
  readonly vpcId: string;
  readonly ingress?: readonly IngressRule[];
}

export interface SecurityGroup {
  readonly groupId: string;
  readonly groupName: string;
  readonly vpcId: string;
  /** Mutable: tests change the rules in place. */
  ingress: IngressRule[];
}

export interface InstanceSpec extends InterfaceSpec {
  /** i-… */
  readonly instanceId: string;
  /** e.g. us-west-2; IMDS placement/region. */
  readonly region: string;
  /** e.g. us-west-2-lax-1a (a Local Zone) or us-west-2a. */
  readonly az: string;
  /** Further interfaces (device index 1, 2, …); the flat fields above are device 0. */
  readonly secondaryInterfaces?: readonly InterfaceSpec[];
}

export interface RouteSpec {
  readonly destinationCidrBlock: string;
  readonly networkInterfaceId?: string;
  readonly gatewayId?: string;
  /** Default 'active'. */
  readonly state?: 'active' | 'blackhole';
}

export interface RouteTableSpec {
  readonly routeTableId: string;
  readonly vpcId: string;
  /** When given, the table holds the `local` route for it, as every VPC table does. */
  readonly vpcCidr?: string;
  readonly routes?: readonly RouteSpec[];
}

export interface NetworkInterface {
  readonly networkInterfaceId: string;
  readonly macAddress: string;
  readonly privateIpAddress: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  readonly instanceId: string;
  readonly deviceIndex: number;
  sourceDestCheck: boolean;
  readonly securityGroupIds: readonly string[];
}

export interface Instance {
  readonly instanceId: string;
  readonly region: string;
  readonly az: string;
  /** Device index order; [0] is the primary interface. */
  readonly interfaces: readonly NetworkInterface[];
}

export interface Route {
  readonly destinationCidrBlock: string;
  networkInterfaceId?: string;
  instanceId?: string;
  gatewayId?: string;
  state: 'active' | 'blackhole';
  origin: 'CreateRouteTable' | 'CreateRoute';
}

export interface RouteTable {
  readonly routeTableId: string;
  readonly vpcId: string;
  /** Keyed by destination CIDR, in insertion order. */
  readonly routes: Map<string, Route>;
}

/** Where a route now sends traffic, as the lab's VPC router needs it. */
export type RouteTarget =
  | { readonly kind: 'interface'; readonly networkInterfaceId: string; readonly privateIp: string; readonly instanceId: string }
  | { readonly kind: 'gateway'; readonly gatewayId: string };

export interface RouteChange {
  readonly routeTableId: string;
  readonly cidr: string;
  /** null when the route was deleted. */
  readonly target: RouteTarget | null;
}

export interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

/** MaxResults / NextToken of a paginated Describe call (both optional). */
export interface PageRequest {
  readonly maxResults?: number;
  readonly nextToken?: string;
}

export interface Page<T> {
  readonly items: T[];
  /** Present when more items follow. */
  readonly nextToken?: string;
}

/** Valid MaxResults of the paginated actions the stand-in serves (EC2's API model). */
export const MAX_RESULTS_RANGE: Readonly<Record<string, { readonly min: number; readonly max: number }>> = {
  DescribeRouteTables: { min: 5, max: 100 },
  DescribeNetworkInterfaces: { min: 5, max: 1000 },
};

/**
 * MaxResults as EC2 checks it: an integer in the action's range. Below the
 * minimum EC2 answers "Value ( 1 ) for parameter maxResults is invalid.
 * Expecting a value greater than 5." (sic, observed); the wording above the
 * maximum is the stand-in's.
 */
export function checkMaxResults(action: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const range = MAX_RESULTS_RANGE[action] ?? { min: 5, max: 1000 };
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) {
    throw new Ec2Fault('InvalidParameterValue', `Value ( ${text} ) for parameter maxResults is invalid. Expecting an integer.`);
  }
  if (n < range.min) throw new Ec2Fault('InvalidParameterValue', `Value ( ${n} ) for parameter maxResults is invalid. Expecting a value greater than ${range.min}.`);
  if (n > range.max) throw new Ec2Fault('InvalidParameterValue', `Value ( ${n} ) for parameter maxResults is invalid. Expecting a value less than or equal to ${range.max}.`);
  return n;
}

function invalidToken(): Ec2Fault {
  return new Ec2Fault('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.');
}

/**
 * One page of pool (in a stable order), after filtering. The token carries
 * the request's fingerprint and the pool position of the last item returned,
 * so a page never repeats or skips an item however the filtered set changes.
 */
function paginate<T>(action: string, pool: readonly T[], keep: (t: T) => boolean, fingerprint: string, page: PageRequest): Page<T> {
  let start = 0;
  if (page.nextToken !== undefined) {
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(page.nextToken, 'base64url').toString('utf8'));
    } catch {
      throw invalidToken();
    }
    const t = decoded as { a?: unknown; f?: unknown; p?: unknown };
    if (t.a !== action || t.f !== fingerprint || typeof t.p !== 'number' || !Number.isInteger(t.p) || t.p < 0) throw invalidToken();
    start = t.p + 1;
  }
  const items: T[] = [];
  for (let i = start; i < pool.length; i += 1) {
    const item = pool[i] as T;
    if (!keep(item)) continue;
    if (page.maxResults !== undefined && items.length === page.maxResults) {
      // One more matches: the page ends at the previous item.
      return { items, nextToken: Buffer.from(JSON.stringify({ a: action, f: fingerprint, p: i - 1 })).toString('base64url') };
    }
    items.push(item);
  }
  return { items };
}

function fingerprintOf(ids: readonly string[], filters: readonly Filter[]): string {
  return JSON.stringify([ids, filters.map((f) => [f.name, f.values])]);
}

const ENI_ID = /^eni-[0-9a-f]{8,17}$/;
const RTB_ID = /^rtb-[0-9a-f]{8,17}$/;

function notFoundTable(id: string): Ec2Fault {
  return new Ec2Fault('InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`);
}

function notFoundEni(id: string): Ec2Fault {
  return new Ec2Fault('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
}

function checkCidr(text: string | undefined): string {
  if (text === undefined || text === '') {
    throw new Ec2Fault('MissingParameter', 'The request must contain the parameter destinationCidrBlock or destinationIpv6CidrBlock');
  }
  const cidr = canonicalCidr(text);
  if (cidr === undefined || cidr !== text.trim()) {
    throw new Ec2Fault('InvalidParameterValue', `Value (${text}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.`);
  }
  return cidr;
}

function matches(filters: readonly Filter[], fields: (name: string) => readonly string[] | undefined): boolean {
  return filters.every((f) => {
    const have = fields(f.name);
    if (have === undefined) throw new Ec2Fault('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    return f.values.some((v) => have.includes(v));
  });
}

export interface Ec2WorldOptions {
  /** Non-propagated routes a table may hold (CreateRoute beyond it: RouteLimitExceeded); default none. */
  readonly routesPerTable?: number | false;
}

export class Ec2World {
  readonly instances = new Map<string, Instance>();
  readonly interfaces = new Map<string, NetworkInterface>();
  readonly routeTables = new Map<string, RouteTable>();
  /** The "Routes per route table (non-propagated routes)" quota; false = none. Tests may change it. */
  routesPerTable: number | false;

  constructor(instances: readonly InstanceSpec[], tables: readonly RouteTableSpec[], options: Ec2WorldOptions = {}) {
    this.routesPerTable = options.routesPerTable ?? false;
    for (const spec of instances) this.addInstance(spec);
    for (const t of tables) this.addRouteTable(t);
  }

  addInstance(spec: InstanceSpec): Instance {
    if (this.instances.has(spec.instanceId)) throw new Error(`instance ${spec.instanceId} is defined twice`);
    const all = [spec, ...(spec.secondaryInterfaces ?? [])];
    const interfaces = all.map((i, deviceIndex): NetworkInterface => {
      if (!ENI_ID.test(i.eni)) throw new Error(`"${i.eni}" is not an ENI id (eni- and hex digits)`);
      if (ipv4Number(i.privateIp.trim()) === undefined) throw new Error(`"${i.privateIp}" is not an IPv4 address`);
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(i.mac)) throw new Error(`"${i.mac}" is not a lower-case MAC address`);
      if (this.interfaces.has(i.eni)) throw new Error(`interface ${i.eni} is defined twice`);
      return {
        networkInterfaceId: i.eni,
        macAddress: i.mac,
        privateIpAddress: i.privateIp,
        subnetId: i.subnetId,
        vpcId: i.vpcId,
        availabilityZone: spec.az,
        instanceId: spec.instanceId,
        deviceIndex,
        sourceDestCheck: i.sourceDestCheck ?? true,
        securityGroupIds: [...(i.securityGroupIds ?? [])],
      };
    });
    const instance: Instance = { instanceId: spec.instanceId, region: spec.region, az: spec.az, interfaces };
    this.instances.set(spec.instanceId, instance);
    for (const i of interfaces) this.interfaces.set(i.networkInterfaceId, i);
    return instance;
  }

  readonly securityGroups = new Map<string, SecurityGroup>();

  addSecurityGroup(spec: SecurityGroupSpec): SecurityGroup {
    if (!/^sg-[0-9a-f]{8,17}$/.test(spec.groupId)) throw new Error(`"${spec.groupId}" is not a security group id`);
    if (this.securityGroups.has(spec.groupId)) throw new Error(`security group ${spec.groupId} is defined twice`);
    const g: SecurityGroup = { groupId: spec.groupId, groupName: spec.groupName ?? spec.groupId, vpcId: spec.vpcId, ingress: [...(spec.ingress ?? [])] };
    this.securityGroups.set(g.groupId, g);
    return g;
  }

  /** DescribeSecurityGroups by GroupId.N (all when none); an unknown id fails the call, as EC2 does. */
  describeSecurityGroups(ids: readonly string[]): SecurityGroup[] {
    for (const id of ids) if (!this.securityGroups.has(id)) throw new Ec2Fault('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    return ids.length > 0 ? ids.map((id) => this.securityGroups.get(id) as SecurityGroup) : [...this.securityGroups.values()];
  }

  addRouteTable(spec: RouteTableSpec): RouteTable {
    if (!RTB_ID.test(spec.routeTableId)) throw new Error(`"${spec.routeTableId}" is not a route table id`);
    if (this.routeTables.has(spec.routeTableId)) throw new Error(`route table ${spec.routeTableId} is defined twice`);
    const table: RouteTable = { routeTableId: spec.routeTableId, vpcId: spec.vpcId, routes: new Map() };
    if (spec.vpcCidr !== undefined) {
      const cidr = checkCidr(spec.vpcCidr);
      table.routes.set(cidr, { destinationCidrBlock: cidr, gatewayId: 'local', state: 'active', origin: 'CreateRouteTable' });
    }
    for (const r of spec.routes ?? []) {
      const cidr = checkCidr(r.destinationCidrBlock);
      const route: Route = { destinationCidrBlock: cidr, state: r.state ?? 'active', origin: 'CreateRoute' };
      if (r.networkInterfaceId !== undefined) {
        route.networkInterfaceId = r.networkInterfaceId;
        route.instanceId = this.interfaces.get(r.networkInterfaceId)?.instanceId;
      } else route.gatewayId = r.gatewayId ?? 'local';
      table.routes.set(cidr, route);
    }
    this.routeTables.set(spec.routeTableId, table);
    return table;
  }

  /** The target a route resolves to now (for the onRouteChange hook). */
  targetOf(route: Route): RouteTarget {
    if (route.networkInterfaceId !== undefined) {
      const eni = this.interfaces.get(route.networkInterfaceId);
      return {
        kind: 'interface',
        networkInterfaceId: route.networkInterfaceId,
        privateIp: eni?.privateIpAddress ?? '',
        instanceId: eni?.instanceId ?? '',
      };
    }
    return { kind: 'gateway', gatewayId: route.gatewayId ?? 'local' };
  }

  /** What a table's CIDR points at now: an ENI id, a gateway id, or undefined. */
  routeTarget(routeTableId: string, cidr: string): string | undefined {
    const r = this.routeTables.get(routeTableId)?.routes.get(cidr);
    return r?.networkInterfaceId ?? r?.gatewayId;
  }

  /** Every matching table (no pagination). */
  describeRouteTables(ids: readonly string[], filters: readonly Filter[]): RouteTable[] {
    return this.describeRouteTablesPage(ids, filters, {}).items;
  }

  /** One page: MaxResults tables at most (all when absent), continuing after NextToken. */
  describeRouteTablesPage(ids: readonly string[], filters: readonly Filter[], page: PageRequest): Page<RouteTable> {
    for (const id of ids) if (!this.routeTables.has(id)) throw notFoundTable(id);
    const pool = ids.length > 0 ? ids.map((id) => this.routeTables.get(id) as RouteTable) : [...this.routeTables.values()];
    const keep = (t: RouteTable): boolean =>
      matches(filters, (name) => {
        const routes = [...t.routes.values()];
        switch (name) {
          case 'route-table-id':
            return [t.routeTableId];
          case 'vpc-id':
            return [t.vpcId];
          case 'owner-id':
            return [ACCOUNT_ID];
          case 'route.destination-cidr-block':
            return routes.map((r) => r.destinationCidrBlock);
          case 'route.network-interface-id':
            return routes.flatMap((r) => (r.networkInterfaceId !== undefined ? [r.networkInterfaceId] : []));
          case 'route.gateway-id':
            return routes.flatMap((r) => (r.gatewayId !== undefined ? [r.gatewayId] : []));
          case 'route.state':
            return routes.map((r) => r.state);
          default:
            return undefined;
        }
      });
    return paginate('DescribeRouteTables', pool, keep, fingerprintOf(ids, filters), page);
  }

  private resolveTarget(table: RouteTable, params: { networkInterfaceId?: string; instanceId?: string; gatewayId?: string }): Route {
    const given = [params.networkInterfaceId, params.instanceId, params.gatewayId].filter((x) => x !== undefined && x !== '');
    if (given.length !== 1) {
      throw new Ec2Fault(
        'InvalidParameterCombination',
        given.length === 0 ? 'The request must contain exactly one of gatewayId, networkInterfaceId or instanceId' : 'Only one of gatewayId, networkInterfaceId or instanceId may be given',
      );
    }
    const base = { destinationCidrBlock: '', state: 'active' as const, origin: 'CreateRoute' as const };
    if (params.gatewayId !== undefined && params.gatewayId !== '') {
      if (params.gatewayId === 'local') throw new Ec2Fault('InvalidParameterValue', 'The gateway ID \'local\' may not be the target of a route you create');
      return { ...base, gatewayId: params.gatewayId };
    }
    let eni: NetworkInterface | undefined;
    if (params.instanceId !== undefined && params.instanceId !== '') {
      const inst = this.instances.get(params.instanceId);
      if (!inst) throw new Ec2Fault('InvalidInstanceID.NotFound', `The instance ID '${params.instanceId}' does not exist`);
      if (inst.interfaces.length > 1) {
        throw new Ec2Fault('InvalidInstanceID', `There are multiple interfaces attached to instance '${params.instanceId}'. Please specify an interface ID for the operation instead.`);
      }
      eni = inst.interfaces[0];
    } else {
      const id = params.networkInterfaceId as string;
      eni = this.interfaces.get(id);
      if (!eni) throw notFoundEni(id);
    }
    if (!eni) throw new Ec2Fault('InvalidParameterValue', 'no network interface');
    if (eni.vpcId !== table.vpcId) {
      throw new Ec2Fault('InvalidParameterValue', `route table ${table.routeTableId} and network interface ${eni.networkInterfaceId} belong to different networks`);
    }
    return { ...base, networkInterfaceId: eni.networkInterfaceId, instanceId: eni.instanceId };
  }

  private table(id: string | undefined): RouteTable {
    if (id === undefined || id === '') throw new Ec2Fault('MissingParameter', 'The request must contain the parameter routeTableId');
    const t = this.routeTables.get(id);
    if (!t) throw notFoundTable(id);
    return t;
  }

  /** Routes counted by the quota: every IPv4 route but the table's local route. */
  nonPropagatedRoutes(table: RouteTable): number {
    let n = 0;
    for (const r of table.routes.values()) if (r.origin === 'CreateRoute') n += 1;
    return n;
  }

  createRoute(p: { routeTableId?: string; cidr?: string; networkInterfaceId?: string; instanceId?: string; gatewayId?: string }): RouteChange {
    const table = this.table(p.routeTableId);
    const cidr = checkCidr(p.cidr);
    const route = { ...this.resolveTarget(table, p), destinationCidrBlock: cidr };
    if (table.routes.has(cidr)) {
      throw new Ec2Fault('RouteAlreadyExists', `The route identified by ${cidr} already exists.`);
    }
    if (this.routesPerTable !== false && this.nonPropagatedRoutes(table) >= this.routesPerTable) {
      // The description of RouteLimitExceeded in "Error codes for the Amazon EC2 API".
      throw new Ec2Fault('RouteLimitExceeded', "You've reached the limit on the number of routes that you can add to a route table.");
    }
    table.routes.set(cidr, route);
    return { routeTableId: table.routeTableId, cidr, target: this.targetOf(route) };
  }

  replaceRoute(p: { routeTableId?: string; cidr?: string; networkInterfaceId?: string; instanceId?: string; gatewayId?: string }): RouteChange {
    const table = this.table(p.routeTableId);
    const cidr = checkCidr(p.cidr);
    const existing = table.routes.get(cidr);
    if (!existing) {
      throw new Ec2Fault('InvalidRoute.NotFound', `There is no route defined for '${cidr}' in the route table. Use CreateRoute instead.`);
    }
    if (existing.origin === 'CreateRouteTable') {
      throw new Ec2Fault('InvalidParameterValue', `The route ${cidr} is the local route of ${table.routeTableId} and cannot be replaced`);
    }
    const route = { ...this.resolveTarget(table, p), destinationCidrBlock: cidr };
    table.routes.set(cidr, route);
    return { routeTableId: table.routeTableId, cidr, target: this.targetOf(route) };
  }

  deleteRoute(p: { routeTableId?: string; cidr?: string }): RouteChange {
    const table = this.table(p.routeTableId);
    const cidr = checkCidr(p.cidr);
    const existing = table.routes.get(cidr);
    if (!existing) {
      throw new Ec2Fault('InvalidRoute.NotFound', `no route with destination-cidr-block ${cidr} in route table ${table.routeTableId}`);
    }
    if (existing.origin === 'CreateRouteTable') {
      throw new Ec2Fault('InvalidParameterValue', `cannot remove local route ${cidr} in route table ${table.routeTableId}`);
    }
    table.routes.delete(cidr);
    return { routeTableId: table.routeTableId, cidr, target: null };
  }

  /** Every matching interface (no pagination). */
  describeNetworkInterfaces(ids: readonly string[], filters: readonly Filter[]): NetworkInterface[] {
    return this.describeNetworkInterfacesPage(ids, filters, {}).items;
  }

  /** One page; EC2 refuses MaxResults together with network interface IDs. */
  describeNetworkInterfacesPage(ids: readonly string[], filters: readonly Filter[], page: PageRequest): Page<NetworkInterface> {
    if (ids.length > 0 && page.maxResults !== undefined) {
      throw new Ec2Fault('InvalidParameterCombination', 'You cannot specify the maxResults parameter and the network interface IDs parameter in the same request.');
    }
    for (const id of ids) if (!this.interfaces.has(id)) throw notFoundEni(id);
    const pool = ids.length > 0 ? ids.map((id) => this.interfaces.get(id) as NetworkInterface) : [...this.interfaces.values()];
    const keep = (n: NetworkInterface): boolean =>
      matches(filters, (name) => {
        switch (name) {
          case 'network-interface-id':
            return [n.networkInterfaceId];
          case 'vpc-id':
            return [n.vpcId];
          case 'subnet-id':
            return [n.subnetId];
          case 'availability-zone':
            return [n.availabilityZone];
          case 'mac-address':
            return [n.macAddress];
          case 'private-ip-address':
          case 'addresses.private-ip-address':
            return [n.privateIpAddress];
          case 'attachment.instance-id':
            return [n.instanceId];
          case 'attachment.device-index':
            return [String(n.deviceIndex)];
          case 'source-dest-check':
            return [String(n.sourceDestCheck)];
          case 'owner-id':
            return [ACCOUNT_ID];
          case 'status':
            return ['in-use'];
          default:
            return undefined;
        }
      });
    return paginate('DescribeNetworkInterfaces', pool, keep, fingerprintOf(ids, filters), page);
  }

  modifySourceDestCheck(eniId: string | undefined, value: string | undefined): void {
    if (eniId === undefined || eniId === '') throw new Ec2Fault('MissingParameter', 'The request must contain the parameter networkInterfaceId');
    const eni = this.interfaces.get(eniId);
    if (!eni) throw notFoundEni(eniId);
    if (value !== 'true' && value !== 'false') {
      throw new Ec2Fault('InvalidParameterValue', `Value (${value ?? ''}) for parameter sourceDestCheck is invalid. Expected: 'true' or 'false'.`);
    }
    eni.sourceDestCheck = value === 'true';
  }
}
