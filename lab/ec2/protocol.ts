// The EC2 Query protocol's two ends: form parameters in (Action, Version,
// RouteTableId.N, Filter.N.Name / Filter.N.Value.M …) and XML out (the
// 2016-11-15 namespace with a requestId, or the <Response><Errors> envelope).
import { XMLBuilder } from 'fast-xml-parser';
import type { Filter } from './model.js';

export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export type Params = ReadonlyMap<string, string>;

/** Values of a flattened list: Name.1, Name.2, … in index order. */
export function listParam(params: Params, name: string): string[] {
  const found: Array<[number, string]> = [];
  const re = new RegExp(`^${name.replace(/\./g, '\\.')}\\.(\\d+)$`);
  for (const [k, v] of params) {
    const m = re.exec(k);
    if (m) found.push([Number(m[1]), v]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** Filter.N.Name with Filter.N.Value.M. */
export function filterParams(params: Params): Filter[] {
  const byIndex = new Map<number, { name?: string; values: Array<[number, string]> }>();
  for (const [k, v] of params) {
    const m = /^Filter\.(\d+)\.(Name|Value\.(\d+))$/.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    const entry = byIndex.get(i) ?? { values: [] };
    if (m[2] === 'Name') entry.name = v;
    else entry.values.push([Number(m[3]), v]);
    byIndex.set(i, entry);
  }
  return [...byIndex.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, e]) => ({ name: e.name ?? '', values: e.values.sort((a, b) => a[0] - b[0]).map(([, v]) => v) }));
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false, format: false });

/** An EC2 success document: <{Action}Response xmlns=…><requestId/>…</…>. */
export function successXml(action: string, requestId: string, body: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [`${action}Response`]: { '@_xmlns': EC2_XMLNS, requestId, ...body } })}`;
}

/** The EC2 error envelope (note RequestID, not requestId, as EC2 sends it). */
export function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ Response: { Errors: { Error: { Code: code, Message: message } }, RequestID: requestId } })}`;
}

/** A list in EC2's XML: <fooSet><item>…</item>…</fooSet>; an empty set stays an empty element. */
export function itemSet(items: readonly Record<string, unknown>[]): Record<string, unknown> | string {
  return items.length === 0 ? '' : { item: items };
}
