// The least OpenAPI v3 that kubectl 1.35 needs: `kubectl apply` validates by
// default (--validate=strict) and first asks /openapi/v3 whether the server does
// field validation itself (a `fieldValidation` query parameter on the PATCH
// operation tagged with the kind's x-kubernetes-group-version-kind). When it
// does, kubectl skips client-side schema validation (which would need the
// protobuf /openapi/v2 document) and leaves validation to the server. So each
// group-version document lists the resource paths with their operations and
// parameters, and a permissive object schema per kind. The PATCH operations do
// not list application/strategic-merge-patch+json: kubectl would then build the
// strategic patch from these (field-less) schemas and warn; without it, kubectl
// uses its compiled-in types (core kinds) or a JSON merge patch (custom kinds).
import { createHash } from 'node:crypto';
import { groupVersion, RESOURCES, type ResourceDef } from './resources.js';

function gvKey(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function schemaName(def: ResourceDef): string {
  const g = def.group === '' ? 'core' : def.group.split('.').reverse().join('.');
  return `${g}.${def.version}.${def.kind}`;
}

const queryParam = (name: string): Record<string, unknown> => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });

function gvk(def: ResourceDef): Record<string, string> {
  return { group: def.group, version: def.version, kind: def.kind };
}

function ok(def: ResourceDef): Record<string, unknown> {
  return { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaName(def)}` } } } } };
}

function op(def: ResourceDef, action: string, params: string[], withBody: boolean, bodyTypes: string[] = ['*/*']): Record<string, unknown> {
  return {
    operationId: `${action}${def.kind}`,
    parameters: params.map(queryParam),
    ...(withBody
      ? { requestBody: { content: Object.fromEntries(bodyTypes.map((t) => [t, { schema: { $ref: `#/components/schemas/${schemaName(def)}` } }])), required: true } }
      : {}),
    responses: ok(def),
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(def),
  };
}

function docFor(group: string, version: string): Record<string, unknown> {
  const defs = RESOURCES.filter((r) => r.group === group && r.version === version);
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  const writeParams = ['dryRun', 'fieldManager', 'fieldValidation', 'pretty'];
  const listParams = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'timeoutSeconds', 'watch', 'pretty'];
  for (const def of defs) {
    const base = def.group === '' ? `/api/${def.version}` : `/apis/${def.group}/${def.version}`;
    const coll = def.namespaced ? `${base}/namespaces/{namespace}/${def.plural}` : `${base}/${def.plural}`;
    const pathParams = (withName: boolean): unknown[] => [
      ...(withName ? [{ name: 'name', in: 'path', description: `name of the ${def.kind}`, required: true, schema: { type: 'string', uniqueItems: true } }] : []),
      ...(def.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }] : []),
    ];
    paths[coll] = {
      get: op(def, 'list', listParams, false),
      post: op(def, 'post', writeParams, true),
      delete: op(def, 'deletecollection', listParams, false),
      parameters: pathParams(false),
    };
    paths[`${coll}/{name}`] = {
      get: op(def, 'get', ['pretty'], false),
      put: op(def, 'put', writeParams, true),
      patch: op(def, 'patch', [...writeParams, 'force'], true, [
        'application/json-patch+json',
        'application/merge-patch+json',
      ]),
      delete: op(def, 'delete', ['dryRun', 'gracePeriodSeconds', 'propagationPolicy', 'pretty'], false),
      parameters: pathParams(true),
    };
    schemas[schemaName(def)] = {
      type: 'object',
      description: `${def.kind} (${groupVersion(def)}), served by the lab stand-in: any fields accepted.`,
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
      'x-kubernetes-preserve-unknown-fields': true,
      'x-kubernetes-group-version-kind': [gvk(def)],
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.35.0-lab' }, paths, components: { schemas } };
}

const docs = new Map<string, { hash: string; text: string }>();
for (const def of RESOURCES) {
  const key = gvKey(def.group, def.version);
  if (docs.has(key)) continue;
  const text = JSON.stringify(docFor(def.group, def.version));
  docs.set(key, { hash: createHash('sha512').update(text).digest('hex').slice(0, 32).toUpperCase(), text });
}

/** GET /openapi/v3: the index of group-version documents. */
export function openApiV3Root(): Record<string, unknown> {
  return { paths: Object.fromEntries([...docs].map(([k, d]) => [k, { serverRelativeURL: `/openapi/v3/${k}?hash=${d.hash}` }])) };
}

/** GET /openapi/v3/<api/v1 | apis/group/version>: the document text, or undefined. */
export function openApiV3Doc(key: string): string | undefined {
  return docs.get(key)?.text;
}
