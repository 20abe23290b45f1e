// withRetry and the error classification, without a network.
import { describe, expect, it } from 'vitest';
import { Ec2Error, FencedError, NO_RETRY, classifyAwsCode, toEc2Error, withRetry, type RetryInfo } from '../../effects/aws/index.js';

const policy = { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 2, factor: 2, randomize: true };
const throttled = () => new Ec2Error('ReplaceRoute', 'RequestLimitExceeded', 'slow down', 'throttling', 503);

describe('classifyAwsCode', () => {
  it.each([
    ['RequestLimitExceeded', undefined, 'throttling'],
    ['Throttling', 400, 'throttling'],
    ['InternalError', 500, 'server'],
    ['SomethingNew', 502, 'server'],
    ['UnauthorizedOperation', 403, 'permission'],
    ['AccessDenied', 403, 'permission'],
    ['InvalidRouteTableID.NotFound', 400, 'not-found'],
    ['InvalidParameterValue', 400, 'validation'],
    ['RouteAlreadyExists', 400, 'conflict'],
    ['ECONNREFUSED', undefined, 'network'],
  ] as const)('%s (%s) is %s', (code, status, kind) => {
    expect(classifyAwsCode(code, status)).toBe(kind);
  });

  it('maps SDK-shaped errors, keeping the AWS message and request id', () => {
    const e = toEc2Error('CreateRoute', { name: 'UnauthorizedOperation', message: 'You are not authorized', $metadata: { httpStatusCode: 403, requestId: 'r-1' } }, 'rtb-1');
    expect(e).toBeInstanceOf(Ec2Error);
    expect(e).toMatchObject({ code: 'UnauthorizedOperation', kind: 'permission', retryable: false, httpStatus: 403, requestId: 'r-1' });
    expect(e.message).toBe('CreateRoute (rtb-1) failed: UnauthorizedOperation: You are not authorized [request r-1]');
    expect(toEc2Error('X', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toMatchObject({ kind: 'network', retryable: true });
    expect(toEc2Error('X', new Error('fetch failed'))).toMatchObject({ code: 'NetworkError', retryable: true });
  });
});

describe('withRetry', () => {
  it('retries retryable errors up to the policy, reporting each failure', async () => {
    const seen: RetryInfo[] = [];
    let calls = 0;
    await expect(
      withRetry(
        () => {
          calls += 1;
          return Promise.reject(throttled());
        },
        policy,
        { onFailedAttempt: (i) => seen.push(i) },
      ),
    ).rejects.toMatchObject({ code: 'RequestLimitExceeded' });
    expect(calls).toBe(4);
    expect(seen.map((s) => [s.attempt, s.willRetry])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, false],
    ]);
  });

  it('succeeds after transient failures', async () => {
    let calls = 0;
    const value = await withRetry(() => (++calls < 3 ? Promise.reject(throttled()) : Promise.resolve('done')), policy);
    expect([value, calls]).toEqual(['done', 3]);
  });

  it('does not retry non-retryable errors or foreign errors', async () => {
    let calls = 0;
    const denied = new Ec2Error('ReplaceRoute', 'UnauthorizedOperation', 'no', 'permission', 403);
    await expect(withRetry(() => (calls++, Promise.reject(denied)), policy)).rejects.toBe(denied);
    await expect(withRetry(() => (calls++, Promise.reject(new Error('bug'))), policy)).rejects.toThrow('bug');
    expect(calls).toBe(2);
    await expect(withRetry(() => (calls++, Promise.reject(throttled())), NO_RETRY)).rejects.toMatchObject({ code: 'RequestLimitExceeded' });
    expect(calls).toBe(3);
  });

  it('an aborted signal refuses to start, and a success that lands after an abort is still a success', async () => {
    const c = new AbortController();
    c.abort();
    await expect(withRetry(() => Promise.resolve(1), policy, { signal: c.signal })).rejects.toBeInstanceOf(FencedError);
    const d = new AbortController();
    const value = await withRetry(
      () => {
        d.abort(); // the fence moves while the (already sent) call is in flight
        return Promise.resolve('applied');
      },
      policy,
      { signal: d.signal },
    );
    expect(value).toBe('applied');
  });

  it('an abort during a backoff wait ends it with FencedError', async () => {
    const c = new AbortController();
    const p = withRetry(() => Promise.reject(throttled()), { ...policy, minTimeoutMs: 60_000, maxTimeoutMs: 60_000 }, { signal: c.signal, onFailedAttempt: () => setImmediate(() => c.abort()) });
    await expect(p).rejects.toBeInstanceOf(FencedError);
  });
});
