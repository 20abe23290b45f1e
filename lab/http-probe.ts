// One HTTP GET as a kubelet's httpGet probe makes it: the status code and
// body, or status 0 (the error as the body) when nothing answered within the
// timeout (connection refused, node gone). node:http, not fetch: Node's fetch
// refuses some ports (10080 among them).
import { get } from 'node:http';

export function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
  });
}
