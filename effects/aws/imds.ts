// IMDSv2 client: PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds),
// then GETs with X-aws-ec2-metadata-token. No IMDSv1 fallback: a refused token
// is an error. The endpoint follows the SDK's settings
// (AWS_EC2_METADATA_SERVICE_ENDPOINT, else AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE
// IPv4 → http://169.254.169.254, IPv6 → http://[fd00:ec2::254]).
//
// Written on node:http rather than @smithy/credential-provider-imds: that
// package's helpers are marked @internal and it is only a transitive
// dependency here; the protocol is two small requests.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ImdsError } from './errors.js';

export const IMDS_IPV4_ENDPOINT = 'http://169.254.169.254';
export const IMDS_IPV6_ENDPOINT = 'http://[fd00:ec2::254]';
/** IMDS's maximum token lifetime (6 hours). */
export const MAX_TOKEN_TTL_SECONDS = 21_600;

type Env = Readonly<Record<string, string | undefined>>;

/** The IMDS endpoint the SDK would use for this environment. */
export function resolveImdsEndpoint(env: Env = process.env): string {
  const explicit = env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  if (explicit !== undefined && explicit !== '') {
    if (!URL.canParse(explicit) || !/^https?:$/.test(new URL(explicit).protocol)) {
      throw new ImdsError('ImdsMalformed', `AWS_EC2_METADATA_SERVICE_ENDPOINT "${explicit}" is not an http(s) URL`, false);
    }
    return explicit;
  }
  const mode = env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE;
  if (mode === undefined || mode === '' || mode === 'IPv4') return IMDS_IPV4_ENDPOINT;
  if (mode === 'IPv6') return IMDS_IPV6_ENDPOINT;
  throw new ImdsError('ImdsMalformed', `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE "${mode}" is not supported: use IPv4 or IPv6`, false);
}

export interface ImdsClientOptions {
  /** Overrides the endpoint from env. */
  readonly endpoint?: string;
  /** Environment to read the endpoint settings from (default process.env). */
  readonly env?: Env;
  /** Token lifetime asked for (1–21600 s, default 21600). */
  readonly tokenTtlSeconds?: number;
  /** Per-request timeout (default 1000 ms, as the SDK's IMDS client). */
  readonly timeoutMs?: number;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

// AWS_REGION and AWS_INSTANCE_ID skip two look-ups, but the ENI holding NODE_IP is only known from
// IMDS (network/interfaces/macs/…): the gateway needs IMDS in any case.
const HOP_LIMIT_HINT =
  'the gateway needs IMDS to find the ENI holding NODE_IP; from a pod without host networking the instance needs http-put-response-hop-limit 2 (aws ec2 modify-instance-metadata-options)';

export class ImdsClient {
  readonly endpoint: string;
  private readonly ttl: number;
  private readonly timeoutMs: number;
  private cached: { token: string; expiresAt: number } | undefined;

  constructor(options: ImdsClientOptions = {}) {
    const env = options.env ?? process.env;
    if (options.endpoint === undefined && env.AWS_EC2_METADATA_DISABLED?.toLowerCase() === 'true') {
      throw new ImdsError('ImdsDisabled', 'IMDS is disabled (AWS_EC2_METADATA_DISABLED=true): the gateway needs it to find the ENI holding NODE_IP (AWS_REGION and AWS_INSTANCE_ID do not replace it); enable it', false);
    }
    this.endpoint = (options.endpoint ?? resolveImdsEndpoint(env)).replace(/\/+$/, '');
    if (!URL.canParse(this.endpoint)) throw new ImdsError('ImdsMalformed', `IMDS endpoint "${this.endpoint}" is not a URL`, false);
    this.ttl = options.tokenTtlSeconds ?? MAX_TOKEN_TTL_SECONDS;
    if (!Number.isInteger(this.ttl) || this.ttl < 1 || this.ttl > MAX_TOKEN_TTL_SECONDS) {
      throw new ImdsError('ImdsMalformed', `IMDS token TTL ${this.ttl} is out of range (1–${MAX_TOKEN_TTL_SECONDS} s)`, false);
    }
    this.timeoutMs = options.timeoutMs ?? 1_000;
  }

  private send(method: 'PUT' | 'GET', path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Reply> {
    const url = new URL(path, `${this.endpoint}/`);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Reply>((resolve, reject) => {
      const req = request(url, { method, headers, timeout: this.timeoutMs, ...(signal ? { signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new ImdsError('ImdsUnreachable', `IMDS ${method} ${url.pathname} got no answer within ${this.timeoutMs} ms at ${this.endpoint}: ${HOP_LIMIT_HINT}`, true)));
      req.on('error', (err) =>
        reject(err instanceof ImdsError ? err : new ImdsError('ImdsUnreachable', `IMDS ${method} ${url.pathname} at ${this.endpoint} failed: ${err.message}`, true, undefined, { cause: err })),
      );
      req.end();
    });
  }

  /** A session token (cached until a minute before it expires). */
  async token(signal?: AbortSignal): Promise<string> {
    if (this.cached && this.cached.expiresAt > Date.now()) return this.cached.token;
    const reply = await this.send('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': String(this.ttl) }, signal);
    if (reply.status !== 200) {
      throw new ImdsError(
        'ImdsTokenRefused',
        `IMDS refused the IMDSv2 token request (HTTP ${reply.status}) at ${this.endpoint}; IMDSv1 is not used`,
        reply.status >= 500,
        reply.status,
      );
    }
    const token = reply.body.trim();
    if (token === '') throw new ImdsError('ImdsMalformed', 'IMDS returned an empty token', false, reply.status);
    const granted = Number(reply.headers['x-aws-ec2-metadata-token-ttl-seconds'] ?? this.ttl);
    const ttl = Number.isFinite(granted) && granted > 0 ? Math.min(granted, this.ttl) : this.ttl;
    this.cached = { token, expiresAt: Date.now() + Math.max(ttl - 60, ttl / 2) * 1000 };
    return token;
  }

  /** GET a metadata path under /latest/meta-data/ (e.g. "placement/region"); the text, trimmed. */
  async get(path: string, signal?: AbortSignal): Promise<string> {
    const full = `/latest/meta-data/${path.replace(/^\/+/, '')}`;
    let reply = await this.send('GET', full, { 'x-aws-ec2-metadata-token': await this.token(signal) }, signal);
    if (reply.status === 401) {
      // The token expired or IMDS restarted: take a new one, once.
      this.cached = undefined;
      reply = await this.send('GET', full, { 'x-aws-ec2-metadata-token': await this.token(signal) }, signal);
    }
    if (reply.status === 200) return reply.body.trim();
    if (reply.status === 401) throw new ImdsError('ImdsUnauthorized', `IMDS answered 401 for ${full} with a fresh token`, false, 401);
    if (reply.status === 404) throw new ImdsError('ImdsNotFound', `IMDS has no ${full}`, false, 404);
    throw new ImdsError('ImdsHttpError', `IMDS GET ${full} answered HTTP ${reply.status}`, reply.status >= 500 || reply.status === 429, reply.status);
  }
}

export interface InstanceIdentity {
  readonly instanceId: string;
  readonly region: string;
  /** The interface holding NODE_IP: the ENI the VPC routes must point at. */
  readonly networkInterfaceId: string;
  readonly macAddress: string;
  readonly nodeIP: string;
  /** Where each value came from. */
  readonly sources: { readonly instanceId: 'override' | 'imds'; readonly region: 'override' | 'imds' };
}

export interface DiscoverOptions {
  /** NODE_IP: the address whose interface is looked for. */
  readonly nodeIP: string;
  /** AWS_REGION: skips placement/region. */
  readonly region?: string;
  /** AWS_INSTANCE_ID: skips instance-id. */
  readonly instanceId?: string;
  /** A client, or options to build one. */
  readonly imds?: ImdsClient | ImdsClientOptions;
  readonly signal?: AbortSignal;
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const ENI_ID = /^eni-[0-9a-f]{8,17}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function checked(value: string, re: RegExp, what: string): string {
  if (!re.test(value)) throw new ImdsError('ImdsMalformed', `IMDS returned "${value.slice(0, 80)}" for ${what}, which is not valid`, false);
  return value;
}

/**
 * Instance id and region (each from its override when given, else IMDS
 * instance-id and placement/region — never the AZ name trimmed, which is wrong
 * for Local Zones), and the ENI of the interface whose local-ipv4s hold nodeIP.
 */
export async function discoverInstanceIdentity(options: DiscoverOptions): Promise<InstanceIdentity> {
  const { nodeIP, signal } = options;
  const imds = options.imds instanceof ImdsClient ? options.imds : new ImdsClient(options.imds);
  const instanceId = options.instanceId ?? checked(await imds.get('instance-id', signal), INSTANCE_ID, 'instance-id');
  const region = options.region ?? checked(await imds.get('placement/region', signal), REGION, 'placement/region');
  const macs = (await imds.get('network/interfaces/macs/', signal))
    .split('\n')
    .map((l) => l.trim().replace(/\/$/, '').toLowerCase())
    .filter((l) => l !== '');
  const seen: string[] = [];
  for (const mac of macs) {
    checked(mac, MAC, 'network/interfaces/macs/');
    const ips = (await imds.get(`network/interfaces/macs/${mac}/local-ipv4s`, signal)).split('\n').map((l) => l.trim());
    seen.push(`${mac}: ${ips.join(',')}`);
    if (!ips.includes(nodeIP)) continue;
    const eni = checked(await imds.get(`network/interfaces/macs/${mac}/interface-id`, signal), ENI_ID, `network/interfaces/macs/${mac}/interface-id`);
    return {
      instanceId,
      region,
      networkInterfaceId: eni,
      macAddress: mac,
      nodeIP,
      sources: { instanceId: options.instanceId !== undefined ? 'override' : 'imds', region: options.region !== undefined ? 'override' : 'imds' },
    };
  }
  throw new ImdsError('NodeIpNotFound', `no network interface of this instance holds NODE_IP ${nodeIP} (IMDS lists ${seen.join('; ') || 'no interfaces'})`, false);
}

/** The region from IMDS placement/region alone (cleanup's, when AWS_REGION is not set: it needs no ENI). */
export async function discoverRegion(imds: ImdsClient | ImdsClientOptions = {}, signal?: AbortSignal): Promise<string> {
  const client = imds instanceof ImdsClient ? imds : new ImdsClient(imds);
  return checked(await client.get('placement/region', signal), REGION, 'placement/region');
}
