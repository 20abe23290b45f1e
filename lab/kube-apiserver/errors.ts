// metav1.Status failures, with the reasons, codes and messages the real API
// server uses (k8s.io/apimachinery/pkg/api/errors).
import type { ResourceDef } from './resources.js';

export interface StatusCause {
  field?: string;
  message: string;
  reason?: string;
}

function qualifiedName(def: Pick<ResourceDef, 'group' | 'plural'>): string {
  return def.group === '' ? def.plural : `${def.plural}.${def.group}`;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number },
  ) {
    super(message);
  }

  status(): Record<string, unknown> {
    const body: Record<string, unknown> = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      // An error that is not a Status (a 500 from a plain Go error) carries no reason.
      ...(this.reason !== '' ? { reason: this.reason } : {}),
      code: this.code,
    };
    if (this.details !== undefined) body.details = this.details;
    return body;
  }

  static notFound(def: Pick<ResourceDef, 'group' | 'plural'>, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${qualifiedName(def)} "${name}" not found`, { name, group: def.group || undefined, kind: def.plural });
  }

  static alreadyExists(def: Pick<ResourceDef, 'group' | 'plural'>, name: string): ApiError {
    return new ApiError(409, 'AlreadyExists', `${qualifiedName(def)} "${name}" already exists`, { name, group: def.group || undefined, kind: def.plural });
  }

  static conflict(def: Pick<ResourceDef, 'group' | 'plural'>, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
    return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedName(def)} "${name}": ${why}`, {
      name,
      group: def.group || undefined,
      kind: def.plural,
    });
  }

  static invalid(def: Pick<ResourceDef, 'group' | 'kind'>, name: string, causes: StatusCause[]): ApiError {
    const kindQ = def.group === '' ? def.kind : `${def.kind}.${def.group}`;
    const list = causes.map((c) => `${c.field ?? ''}: ${c.message}`).join(', ');
    return new ApiError(422, 'Invalid', `${kindQ} "${name}" is invalid: ${causes.length > 1 ? `[${list}]` : list}`, {
      name,
      group: def.group || undefined,
      kind: def.kind,
      causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', message: c.message, field: c.field })),
    });
  }

  static badRequest(message: string): ApiError {
    return new ApiError(400, 'BadRequest', message);
  }

  static gone(message: string): ApiError {
    return new ApiError(410, 'Expired', message);
  }

  static methodNotAllowed(): ApiError {
    return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }

  static unsupportedMediaType(type: string): ApiError {
    return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got ${type})`);
  }

  static internal(message = 'an error on the server ("injected fault") has prevented the request from succeeding'): ApiError {
    return new ApiError(500, 'InternalError', message, { causes: [{ message }] });
  }

  static unavailable(message = 'the server is currently unable to handle the request'): ApiError {
    return new ApiError(503, 'ServiceUnavailable', message);
  }

  static unauthorized(): ApiError {
    return new ApiError(401, 'Unauthorized', 'Unauthorized');
  }

  static notFoundPath(): ApiError {
    return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  }
}
