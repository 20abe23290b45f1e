// An IMDSv2-only instance metadata service for one instance: PUT
// /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1–21600) gives a
// token; every GET must carry it in X-aws-ec2-metadata-token, else 401 (no
// IMDSv1). Serves the paths the gateway reads, with IMDS's text formats
// (listings end directories with '/').
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Instance } from './model.js';

export interface ImdsCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

const MAX_TTL = 21_600;

export function imdsHandler(instance: Instance, calls: ImdsCall[], tokens = new Map<string, number>()): (req: IncomingMessage, res: ServerResponse) => void {
  // tokens: token → expiry (ms since epoch); the caller may clear it to simulate an IMDS restart.

  const tree = (): Map<string, string> => {
    const m = new Map<string, string>();
    const primary = instance.interfaces[0];
    m.set('instance-id', instance.instanceId);
    m.set('placement/region', instance.region);
    m.set('placement/availability-zone', instance.az);
    if (primary) {
      m.set('mac', primary.macAddress);
      m.set('local-ipv4', primary.privateIpAddress);
    }
    for (const eni of instance.interfaces) {
      const base = `network/interfaces/macs/${eni.macAddress}/`;
      m.set(`${base}mac`, eni.macAddress);
      m.set(`${base}interface-id`, eni.networkInterfaceId);
      m.set(`${base}local-ipv4s`, eni.privateIpAddress);
      m.set(`${base}device-number`, String(eni.deviceIndex));
      m.set(`${base}subnet-id`, eni.subnetId);
      m.set(`${base}vpc-id`, eni.vpcId);
    }
    return m;
  };

  /** A leaf's text, or a directory listing (children, directories with '/'), or undefined. */
  const lookup = (path: string): string | undefined => {
    const t = tree();
    const leaf = t.get(path);
    if (leaf !== undefined) return leaf;
    const prefix = path === '' || path.endsWith('/') ? path : `${path}/`;
    const children = new Set<string>();
    for (const key of t.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      children.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    return children.size > 0 ? [...children].join('\n') : undefined;
  };

  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://imds').pathname;
    const send = (status: number, body: string, headers: Record<string, string> = {}): void => {
      calls.push({ method: req.method ?? '', path, status });
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(body);
    };
    req.resume();
    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return send(405, 'Method Not Allowed');
      if (req.headers['x-forwarded-for'] !== undefined) return send(403, 'Forbidden');
      const raw = req.headers['x-aws-ec2-metadata-token-ttl-seconds'];
      const ttl = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(ttl >= 1 && ttl <= MAX_TTL)) return send(400, 'Bad Request');
      const token = randomBytes(32).toString('base64url');
      tokens.set(token, Date.now() + ttl * 1000);
      return send(200, token, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'Method Not Allowed');
    const token = req.headers['x-aws-ec2-metadata-token'];
    const expiry = typeof token === 'string' ? tokens.get(token) : undefined;
    if (expiry === undefined || expiry < Date.now()) return send(401, 'Unauthorized');
    const m = /^\/latest\/meta-data\/?(.*)$/.exec(path);
    const body = m ? lookup(m[1] ?? '') : undefined;
    if (body === undefined) return send(404, 'Not Found');
    return send(200, body);
  };
}
