// The breather long loops use to hand the event loop back: by time (the
// default) or by count.
import { describe, expect, it, vi } from 'vitest';
import { breather, SLICE_BUDGET_MS } from '../../effects/breathe.js';

describe('breather', () => {
  it('by default is due only once the loop has run for the budget since its last turn', async () => {
    let now = 1000;
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const b = breather();
      // Many items within the budget: never due.
      for (let i = 0; i < 10_000; i++) expect(b.due()).toBe(false);
      // The budget spent: due at the next look at the clock (every 32 items), not before.
      now += SLICE_BUDGET_MS;
      const dueAt = Array.from({ length: 64 }, () => b.due()).indexOf(true);
      expect(dueAt).toBeGreaterThanOrEqual(0);
      expect(dueAt).toBeLessThan(32);
      // A pause restarts the budget.
      await b.pause();
      for (let i = 0; i < 1000; i++) expect(b.due()).toBe(false);
    } finally {
      spy.mockRestore();
    }
  });

  it('with `every`, is due every n-th item whatever the clock says', () => {
    const b = breather({ every: 25 });
    const due = Array.from({ length: 100 }, () => b.due());
    expect(due.filter(Boolean)).toHaveLength(4);
    expect(due.indexOf(true)).toBe(24);
  });
});
