// One HTTP GET as a kubelet's httpGet probe makes it: the status code, or 0
// when nothing answered within the timeout (connection refused, node gone).
import { get } from 'node:http';

export function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}
