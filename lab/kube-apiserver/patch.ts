// JSON merge patch (RFC 7386) and JSON patch (RFC 6902) over plain JSON values.
// Hand-written (no JSON-patch library is installed; both are short and fully
// specified). Strategic merge patch is served as merge patch (see README).
import { ApiError } from './errors.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** RFC 7386: objects merge key by key, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw ApiError.badRequest(`invalid JSON pointer "${pointer}"`);
  return pointer.slice(1).split('/').map(unescape);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

/** RFC 6902 on a deep copy; any failing operation fails the whole patch (422 like the server). */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw ApiError.badRequest('json patch must be an array of operations');
  let doc: unknown = structuredClone(target);

  const fail = (msg: string): never => {
    throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${msg}`);
  };

  const parentOf = (path: string[]): { parent: unknown; key: string } => {
    let cur: unknown = doc;
    for (const p of path.slice(0, -1)) {
      if (Array.isArray(cur)) cur = cur[Number(p)];
      else if (isObject(cur)) cur = cur[p];
      else fail(`path not found: /${path.join('/')}`);
      if (cur === undefined) fail(`path not found: /${path.join('/')}`);
    }
    return { parent: cur, key: path[path.length - 1]! };
  };

  const get = (path: string[]): unknown => {
    let cur: unknown = doc;
    for (const p of path) {
      if (Array.isArray(cur)) cur = cur[Number(p)];
      else if (isObject(cur)) cur = Object.prototype.hasOwnProperty.call(cur, p) ? cur[p] : undefined;
      else return undefined;
      if (cur === undefined) return undefined;
    }
    return cur;
  };

  const add = (path: string[], value: unknown): void => {
    if (path.length === 0) {
      doc = value;
      return;
    }
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) fail(`index out of range: ${key}`);
      parent.splice(i, 0, value);
    } else if (isObject(parent)) parent[key] = value;
    else fail(`cannot add at /${path.join('/')}`);
  };

  const remove = (path: string[]): unknown => {
    if (path.length === 0) fail('cannot remove the root');
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= parent.length) fail(`index out of range: ${key}`);
      return parent.splice(i, 1)[0];
    }
    if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, key)) {
      const old = parent[key];
      delete parent[key];
      return old;
    }
    return fail(`path not found: /${path.join('/')}`);
  };

  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') fail('invalid operation');
    const op = raw as unknown as Op;
    const path = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        add(path, structuredClone(op.value));
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        remove(path);
        add(path, structuredClone(op.value));
        break;
      case 'move': {
        const v = remove(parsePointer(op.from ?? ''));
        add(path, v);
        break;
      }
      case 'copy': {
        const v = get(parsePointer(op.from ?? ''));
        if (v === undefined) fail(`path not found: ${op.from}`);
        add(path, structuredClone(v));
        break;
      }
      case 'test':
        if (!deepEqual(get(path), op.value)) fail(`testing value ${op.path} failed`);
        break;
      default:
        fail(`unknown operation ${op.op}`);
    }
  }
  return doc;
}
