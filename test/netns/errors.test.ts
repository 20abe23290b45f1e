// Mapping of the netlink package's failures to typed NetlinkErrors (pure),
// and the opt-in retry helper.
import { describe, expect, it } from 'vitest';
import { NetlinkError, toNetlinkError, isNetlinkError } from '../../effects/netlink/index.js';
import { EffectError } from '../../effects/errors.js';

describe('toNetlinkError', () => {
  it.each([
    ['EEXIST', false],
    ['ENOENT', false],
    ['EPERM', false],
    ['ENODEV', false],
    ['EINVAL', false],
    ['ESRCH', false],
    ['EBUSY', true],
    ['EAGAIN', true],
    ['ENOBUFS', true],
  ] as const)('reads %s out of the package message (retryable %s)', (code, retryable) => {
    const err = toNetlinkError(new Error(`Request rejected: ${code}`), 'add route 198.18.3.0/24');
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toBeInstanceOf(EffectError);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(err.op).toBe('add route 198.18.3.0/24');
    expect(err.message).toContain('add route 198.18.3.0/24');
    expect(err.message).toContain(code);
  });

  it('maps timeouts, errno exceptions and unknown numbers', () => {
    expect(toNetlinkError(new Error('Timeout has been reached'), 'x').code).toBe('ETIMEDOUT');
    expect(toNetlinkError(new Error('Timeout has been reached'), 'x').retryable).toBe(true);
    expect(toNetlinkError(Object.assign(new Error('send failed'), { code: 'EPERM' }), 'x').code).toBe('EPERM');
    const odd = toNetlinkError(new Error('Request rejected: 4242'), 'x');
    expect(odd.code).toBe('UNKNOWN');
    expect(odd.message).toContain('4242');
    expect(toNetlinkError('weird', 'x').code).toBe('UNKNOWN');
  });

  it('keeps an existing NetlinkError as is', () => {
    const e = new NetlinkError('ABORTED', 'op');
    expect(toNetlinkError(e, 'other')).toBe(e);
    expect(isNetlinkError(e, 'ABORTED')).toBe(true);
    expect(isNetlinkError(e, 'EEXIST')).toBe(false);
  });
});
