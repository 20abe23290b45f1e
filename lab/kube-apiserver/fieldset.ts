// Sets of field paths, as structured-merge-diff keeps them (fieldpath.Set) and
// as metadata.managedFields stores them (FieldsV1). A path is a list of path
// elements, each in its FieldsV1 spelling: `f:<field>`, `k:<key fields as
// JSON>` (an item of a list-type map), `v:<value as JSON>` (an item of a set),
// `i:<index>`. A set is a trie: the elements that are members at this level,
// and the sub-sets below each element; FieldsV1 writes a member with children
// as `".": {}` inside that child (fieldpath/serialize.go, emitContentsV1).
// Sources: kubernetes-sigs/structured-merge-diff fieldpath/{set,element,
// serialize,serialize-pe}.go (lab/README.md).

export type PathElement = string;
export type FieldPath = readonly PathElement[];
export type FieldsV1 = { [pe: string]: FieldsV1 };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `k:` of a list-map item: its key fields, sorted by name, as compact JSON. */
export function keyElement(fields: Record<string, unknown>): PathElement {
  const sorted = Object.keys(fields).sort().map((k) => [k, fields[k]] as const);
  return `k:${JSON.stringify(Object.fromEntries(sorted))}`;
}

export function fieldElement(name: string): PathElement {
  return `f:${name}`;
}

export function valueElement(v: unknown): PathElement {
  return `v:${JSON.stringify(v)}`;
}

const RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

/** A total order on values of different types (value.Compare orders by type first). */
function compareValues(a: unknown, b: unknown): number {
  const rank = (x: unknown): number => (x === null ? 0 : typeof x === 'boolean' ? 1 : typeof x === 'number' ? 2 : typeof x === 'string' ? 3 : Array.isArray(x) ? 4 : 5);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' || typeof a === 'boolean') return Number(a) - Number(b);
  const sa = typeof a === 'string' ? a : JSON.stringify(a);
  const sb = typeof b === 'string' ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** PathElement.Compare: fields < keys < values < indexes; keys field by field (name, then value). */
export function compareElements(a: PathElement, b: PathElement): number {
  const ka = a.slice(0, 1);
  const kb = b.slice(0, 1);
  if (ka !== kb) return (RANK[ka] ?? 9) - (RANK[kb] ?? 9);
  const ra = a.slice(2);
  const rb = b.slice(2);
  if (ka === 'f') return ra < rb ? -1 : ra > rb ? 1 : 0;
  if (ka === 'i') return Number(ra) - Number(rb);
  if (ka === 'v') return compareValues(JSON.parse(ra), JSON.parse(rb));
  const fa = Object.entries(JSON.parse(ra) as Record<string, unknown>);
  const fb = Object.entries(JSON.parse(rb) as Record<string, unknown>);
  for (let i = 0; ; i++) {
    if (i >= fa.length || i >= fb.length) return fa.length - fb.length;
    const [na, va] = fa[i]!;
    const [nb, vb] = fb[i]!;
    if (na !== nb) return na < nb ? -1 : 1;
    const c = compareValues(va, vb);
    if (c !== 0) return c;
  }
}

/** Go's %q of a string, for the ASCII the API's names and keys use. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

function goValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return goQuote(v);
  if (Array.isArray(v)) return `[${v.map(goValue).join(',')}]`;
  if (isObject(v)) return Object.entries(v).map(([k, x]) => `${k}=${goValue(x)}`).join('');
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : '{{undefined}}';
}

/** Path.String(): `.spec.endpoints[name="x"].cidr`, `[="a"]` for a set item, `[0]` for an index. */
export function pathString(path: FieldPath): string {
  return path
    .map((pe) => {
      const rest = pe.slice(2);
      switch (pe[0]) {
        case 'f':
          return `.${rest}`;
        case 'k':
          return `[${Object.entries(JSON.parse(rest) as Record<string, unknown>).map(([k, v]) => `${k}=${goValue(v)}`).join(',')}]`;
        case 'v':
          return `[=${goValue(JSON.parse(rest))}]`;
        default:
          return `[${rest}]`;
      }
    })
    .join('');
}

export class FieldSet {
  readonly members = new Set<PathElement>();
  readonly children = new Map<PathElement, FieldSet>();

  insert(path: FieldPath): void {
    if (path.length === 0) return;
    if (path.length === 1) {
      this.members.add(path[0]!);
      return;
    }
    let c = this.children.get(path[0]!);
    if (c === undefined) {
      c = new FieldSet();
      this.children.set(path[0]!, c);
    }
    c.insert(path.slice(1));
  }

  has(path: FieldPath): boolean {
    if (path.length === 0) return false;
    if (path.length === 1) return this.members.has(path[0]!);
    return this.children.get(path[0]!)?.has(path.slice(1)) ?? false;
  }

  isEmpty(): boolean {
    if (this.members.size > 0) return false;
    for (const c of this.children.values()) if (!c.isEmpty()) return false;
    return true;
  }

  private static combine(a: FieldSet, b: FieldSet, op: 'union' | 'difference' | 'intersection'): FieldSet {
    const out = new FieldSet();
    for (const m of a.members) {
      const inB = b.members.has(m);
      if (op === 'union' || (op === 'difference' && !inB) || (op === 'intersection' && inB)) out.members.add(m);
    }
    if (op === 'union') for (const m of b.members) out.members.add(m);
    const keys = new Set([...a.children.keys(), ...(op === 'union' ? b.children.keys() : [])]);
    for (const k of keys) {
      const ca = a.children.get(k) ?? new FieldSet();
      const cb = b.children.get(k) ?? new FieldSet();
      const c = FieldSet.combine(ca, cb, op);
      if (!c.isEmpty()) out.children.set(k, c);
    }
    return out;
  }

  union(o: FieldSet): FieldSet {
    return FieldSet.combine(this, o, 'union');
  }

  difference(o: FieldSet): FieldSet {
    return FieldSet.combine(this, o, 'difference');
  }

  intersection(o: FieldSet): FieldSet {
    return FieldSet.combine(this, o, 'intersection');
  }

  /** Every member path, in Set.Iterate's order: this level's members, then each child's (sorted). */
  paths(prefix: FieldPath = []): PathElement[][] {
    const out: PathElement[][] = [...this.members].sort(compareElements).map((m) => [...prefix, m]);
    for (const k of [...this.children.keys()].sort(compareElements)) out.push(...this.children.get(k)!.paths([...prefix, k]));
    return out;
  }

  /** FieldsV1, members and children merged in element order, `"."` first where a member has children. */
  toFieldsV1(): FieldsV1 {
    const out: FieldsV1 = {};
    const keys = [...new Set([...this.members, ...this.children.keys()])].sort(compareElements);
    for (const k of keys) {
      const child = this.children.get(k);
      if (child === undefined || child.isEmpty()) out[k] = {};
      else out[k] = this.members.has(k) ? { '.': {}, ...child.toFieldsV1() } : child.toFieldsV1();
    }
    return out;
  }

  /** Parses FieldsV1; throws on anything that is not one. */
  static fromFieldsV1(v: unknown): FieldSet {
    const s = new FieldSet();
    if (!isObject(v)) throw new Error('FieldsV1 must be an object');
    for (const [k, sub] of Object.entries(v)) {
      if (!isObject(sub)) throw new Error(`FieldsV1: ${k} must map to an object`);
      if (k === '.') continue;
      if (!/^[fkvi]:/.test(k)) throw new Error(`FieldsV1: unknown path element ${k}`);
      const keys = Object.keys(sub);
      if (keys.length === 0 || keys.includes('.')) s.members.add(k);
      if (keys.some((x) => x !== '.')) s.children.set(k, FieldSet.fromFieldsV1(sub));
    }
    return s;
  }
}
