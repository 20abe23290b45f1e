// Error mapping and the opt-in retry policy of the kube adapters.
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeApplyConflictError, KubeError, KubeFencedError, statusToKubeError, toKubeError, withKubeRetry } from '../../effects/kube/index.js';

const status = (code: number, reason: string) => JSON.stringify({ kind: 'Status', code, reason, message: `m ${reason}` });

describe('toKubeError', () => {
  it('maps API statuses to codes and retryability', () => {
    const cases: Array<[number, string, string, boolean]> = [
      [409, 'Conflict', 'Conflict', true],
      [409, 'AlreadyExists', 'AlreadyExists', true],
      [404, 'NotFound', 'NotFound', false],
      [410, 'Expired', 'Gone', true],
      [422, 'Invalid', 'Invalid', false],
      [403, 'Forbidden', 'Forbidden', false],
      [429, 'TooManyRequests', 'TooManyRequests', true],
      [500, 'InternalError', 'ServerError', true],
      [503, 'ServiceUnavailable', 'Unavailable', true],
    ];
    for (const [code, reason, want, retryable] of cases) {
      const e = toKubeError(new ApiException(code, 'x', status(code, reason), {}), 'op');
      expect(e).toBeInstanceOf(KubeError);
      expect([e.code, e.retryable, e.status]).toEqual([want, retryable, code]);
      expect(e.message).toContain(`m ${reason}`);
    }
  });
  it('maps an apply conflict (409 with FieldManagerConflict causes) to KubeApplyConflictError, naming each manager and field; withKubeRetry does not retry it', async () => {
    const body = JSON.stringify({
      kind: 'Status', code: 409, reason: 'Conflict',
      message: 'Apply failed with 2 conflicts: conflicts with "shard-0":\n- .spec.endpoints[name="a"].cidr\nconflicts with "kubectl-edit" using cilium.io/v2 at 2026-01-01T00:00:00Z:\n- .spec.endpoints[name="a"].mac',
      details: { causes: [
        { reason: 'FieldManagerConflict', message: 'conflict with "shard-0"', field: '.spec.endpoints[name="a"].cidr' },
        { reason: 'FieldManagerConflict', message: 'conflict with "kubectl-edit" using cilium.io/v2 at 2026-01-01T00:00:00Z', field: '.spec.endpoints[name="a"].mac' },
      ] },
    });
    const e = toKubeError(new ApiException(409, 'x', body, {}), 'apply');
    expect(e).toBeInstanceOf(KubeApplyConflictError);
    expect(e).toMatchObject({ code: 'Conflict', retryable: false, status: 409 });
    expect((e as KubeApplyConflictError).conflicts).toEqual([
      { manager: 'shard-0', field: '.spec.endpoints[name="a"].cidr' },
      { manager: 'kubectl-edit', field: '.spec.endpoints[name="a"].mac' },
    ]);
    // A stale resourceVersion (no causes) stays the retryable Conflict.
    expect(toKubeError(new ApiException(409, 'x', status(409, 'Conflict'), {}), 'op')).not.toBeInstanceOf(KubeApplyConflictError);
    let calls = 0;
    await expect(withKubeRetry(() => {
      calls += 1;
      throw e;
    }, { retries: 3, minTimeoutMs: 1 })).rejects.toBe(e);
    expect(calls).toBe(1);
  });
  it('maps transport failures, aborts and timeouts', () => {
    expect(toKubeError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }), 'op').code).toBe('Network');
    const ctl = new AbortController();
    ctl.abort();
    expect(toKubeError(new DOMException('aborted', 'AbortError'), 'op', ctl.signal).code).toBe('Aborted');
    expect(toKubeError(new DOMException('t', 'TimeoutError'), 'op', AbortSignal.timeout(0)).code).toBe('Timeout');
    expect(toKubeError(Object.assign(new Error('Gone'), { statusCode: 410 }), 'watch').code).toBe('Gone');
    expect(statusToKubeError({ kind: 'Status', code: 410, reason: 'Expired' }, 'watch').code).toBe('Gone');
    expect(statusToKubeError('garbage', 'watch').code).toBe('ServerError');
  });
});

describe('withKubeRetry', () => {
  it('retries retryable errors and returns the first success', async () => {
    let n = 0;
    const retried: string[] = [];
    const v = await withKubeRetry(
      () => {
        n += 1;
        if (n < 3) throw new KubeError('Conflict', 'c', true, 409);
        return Promise.resolve('ok');
      },
      { minTimeoutMs: 1, maxTimeoutMs: 2, onRetry: (e) => retried.push(e.code) },
    );
    expect(v).toBe('ok');
    expect(retried).toEqual(['Conflict', 'Conflict']);
  });
  it('does not retry NotFound or Fenced, and keeps the KubeError type', async () => {
    let n = 0;
    await expect(
      withKubeRetry(() => {
        n += 1;
        throw new KubeError('NotFound', 'nf', false, 404);
      }),
    ).rejects.toMatchObject({ code: 'NotFound' });
    expect(n).toBe(1);
    await expect(withKubeRetry(() => Promise.reject(new KubeFencedError('w')))).rejects.toBeInstanceOf(KubeFencedError);
  });
  it('gives up after its retries', async () => {
    let n = 0;
    await expect(
      withKubeRetry(
        () => {
          n += 1;
          throw new KubeError('Unavailable', 'u', true, 503);
        },
        { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2 },
      ),
    ).rejects.toMatchObject({ code: 'Unavailable' });
    expect(n).toBe(3);
  });
});
