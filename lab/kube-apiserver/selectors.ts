// Label and field selectors as the API server parses them
// (k8s.io/apimachinery/pkg/labels and pkg/fields), enough for the lab:
// labels: key, !key, key=v, key==v, key!=v, key in (a,b), key notin (a,b),
// key>n, key<n; fields: path=v, path==v, path!=v.
// A selector that does not parse throws SelectorError (the server answers 400).

export class SelectorError extends Error {}

type LabelRequirement =
  | { op: 'exists' | '!'; key: string }
  | { op: '=' | '!='; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: Set<string> }
  | { op: 'gt' | 'lt'; key: string; n: number };

export type Matcher<T> = (x: T) => boolean;

// Qualified name with optional DNS prefix; the server is as strict as this.
const KEY = String.raw`(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const reExists = new RegExp(`^(!?)\\s*(${KEY})$`);
const reEq = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const reSet = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`);
const reCmp = new RegExp(`^(${KEY})\\s*([<>])\\s*(-?\\d+)$`);
const reValue = new RegExp(`^${VALUE}$`);

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (depth < 0) throw new SelectorError(`unbalanced parenthesis in selector "${s}"`);
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) throw new SelectorError(`unbalanced parenthesis in selector "${s}"`);
  parts.push(cur);
  return parts;
}

function parseLabelRequirement(raw: string): LabelRequirement {
  const s = raw.trim();
  let m = reSet.exec(s);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim());
    for (const v of values) if (!reValue.test(v)) throw new SelectorError(`invalid label value "${v}"`);
    return { op: m[2] === 'in' ? 'in' : 'notin', key: m[1]!, values: new Set(values) };
  }
  m = reEq.exec(s);
  if (m) return { op: m[2] === '!=' ? '!=' : '=', key: m[1]!, value: m[3]! };
  m = reCmp.exec(s);
  if (m) return { op: m[2] === '>' ? 'gt' : 'lt', key: m[1]!, n: Number(m[3]) };
  m = reExists.exec(s);
  if (m) return { op: m[1] === '!' ? '!' : 'exists', key: m[2]! };
  throw new SelectorError(`unable to parse requirement: "${s}"`);
}

/** Parses a label selector; the empty selector matches everything. */
export function parseLabelSelector(selector: string | undefined | null): Matcher<Record<string, string> | undefined> {
  if (selector === undefined || selector === null || selector.trim() === '') return () => true;
  const reqs = splitTop(selector).map(parseLabelRequirement);
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => {
      const has = Object.prototype.hasOwnProperty.call(l, r.key);
      const v = has ? l[r.key] : undefined;
      switch (r.op) {
        case 'exists':
          return has;
        case '!':
          return !has;
        case '=':
          return has && v === r.value;
        case '!=':
          return !has || v !== r.value;
        case 'in':
          return has && r.values.has(v ?? '');
        case 'notin':
          return !has || !r.values.has(v ?? '');
        case 'gt':
        case 'lt': {
          if (!has || !/^-?\d+$/.test(v ?? '')) return false;
          const n = Number(v);
          return r.op === 'gt' ? n > r.n : n < r.n;
        }
      }
    });
  };
}

/** Reads a dotted path (metadata.name, involvedObject.uid…) as a string. */
function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number' || typeof cur === 'boolean') return String(cur);
  return '';
}

/** Parses a field selector (path=v, path==v, path!=v, comma-joined). */
export function parseFieldSelector(selector: string | undefined | null, allowed?: ReadonlySet<string>): Matcher<unknown> {
  if (selector === undefined || selector === null || selector.trim() === '') return () => true;
  const reqs = selector.split(',').map((raw) => {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw new SelectorError(`invalid field selector: "${raw}"`);
    const path = m[1]!;
    if (allowed !== undefined && !allowed.has(path)) {
      throw new SelectorError(`field label not supported: ${path}`);
    }
    return { path, neg: m[2] === '!=', value: m[3]! };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.path) === r.value) !== r.neg);
}
