import { describe, expect, it } from 'vitest';
import { MultiMap } from '../../machines/domain/multi-map.js';

function values<K, V extends object | number>(m: MultiMap<K, V>, key: K): V[] {
  const out: V[] = [];
  m.forEach(key, (v) => out.push(v));
  return out;
}

describe('MultiMap', () => {
  it('keeps a lone value and grows to a list and back', () => {
    const m = new MultiMap<string, { n: number }>();
    const a = { n: 1 };
    const b = { n: 2 };
    const c = { n: 3 };
    m.add('k', a);
    expect(values(m, 'k')).toEqual([a]);
    m.add('k', b);
    m.add('k', c);
    expect(values(m, 'k')).toEqual([a, b, c]);
    expect(m.remove('k', b)).toBe(true);
    expect(values(m, 'k')).toEqual([a, c]);
    expect(m.remove('k', a)).toBe(true);
    expect(values(m, 'k')).toEqual([c]);
    expect(m.remove('k', c)).toBe(true);
    expect(values(m, 'k')).toEqual([]);
  });

  it('removes by identity and reports what was not there', () => {
    const m = new MultiMap<string, { n: number }>();
    const a = { n: 1 };
    m.add('k', a);
    expect(m.remove('k', { n: 1 })).toBe(false);
    expect(m.remove('other', a)).toBe(false);
    expect(values(m, 'k')).toEqual([a]);
  });

  it('keeps duplicates as separate occurrences', () => {
    const m = new MultiMap<number, number>();
    m.add(7, 1);
    m.add(7, 1);
    expect(values(m, 7)).toEqual([1, 1]);
    expect(m.remove(7, 1)).toBe(true);
    expect(values(m, 7)).toEqual([1]);
  });

  it('lets a visitor remove what it visits', () => {
    const m = new MultiMap<string, number>();
    for (const v of [1, 2, 3]) m.add('k', v);
    m.forEach('k', (v) => m.remove('k', v));
    expect(values(m, 'k')).toEqual([]);
  });
});
