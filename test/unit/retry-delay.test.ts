// When a standby makes its next lease attempt.
import { describe, expect, it } from 'vitest';
import { retryDelay } from '../../runtime/wiring/lease.js';

describe('standby retry delay', () => {
  it('is the retry period, or the time to the holder’s expiry when sooner, never a busy loop', () => {
    expect(retryDelay(1000, undefined, 50)).toBe(1000);
    expect(retryDelay(1000, 5000, 1000)).toBe(1000); // expiry far away
    expect(retryDelay(1000, 1300, 1000)).toBe(305); // expiry in 300 ms (+5 ms margin)
    expect(retryDelay(1000, 900, 1000)).toBe(1000); // already past: nothing new, wait the period
  });
});
