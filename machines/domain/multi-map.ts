// A map from a key to one or more values that stores a lone value as itself:
// a Set or an array per key costs hundreds of bytes, and for 20,000 hybrid
// nodes almost every key (an IP, a pod CIDR) has exactly one value. Values
// must not be arrays themselves.
function isList<V>(x: V | V[]): x is V[] {
  return Array.isArray(x);
}

export class MultiMap<K, V extends object | number> {
  private readonly m = new Map<K, V | V[]>();

  add(key: K, value: V): void {
    const cur = this.m.get(key);
    if (cur === undefined) this.m.set(key, value);
    else if (isList(cur)) cur.push(value);
    else this.m.set(key, [cur, value]);
  }

  /** Removes one occurrence; false when it was not there. */
  remove(key: K, value: V): boolean {
    const cur = this.m.get(key);
    if (cur === undefined) return false;
    if (!isList(cur)) {
      if (cur !== value) return false;
      this.m.delete(key);
      return true;
    }
    const i = cur.indexOf(value);
    if (i < 0) return false;
    cur.splice(i, 1);
    if (cur.length === 1) this.m.set(key, cur[0]!);
    return true;
  }

  forEach(key: K, visit: (value: V) => void): void {
    const cur = this.m.get(key);
    if (cur === undefined) return;
    if (isList(cur)) for (const v of [...cur]) visit(v);
    else visit(cur);
  }
}
