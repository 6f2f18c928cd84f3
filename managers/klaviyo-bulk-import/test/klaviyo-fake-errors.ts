/**
 * Klaviyo's error documents, as its API sends them: a JSON:API `errors[]` where each error has an
 * id, the HTTP status, a code, a title, a detail and a `source` (a JSON pointer into the request
 * body, or the query/header parameter at fault). See "Rate limits, status codes, and errors".
 */
import { randomUUID } from 'node:crypto';

export interface FakeError {
  code: string;
  detail: string;
  title?: string;
  /** JSON pointer into the request body, e.g. "/data/attributes/profiles/data/3/attributes/email". */
  pointer?: string;
  /** Query or header parameter at fault, e.g. "revision". */
  parameter?: string;
}

const TITLES: Record<number, string> = {
  400: 'Invalid input.',
  401: 'Authentication credentials were not provided.',
  403: 'You do not have permission to perform this action.',
  404: 'Not found.',
  405: 'Method not allowed.',
  406: 'Not acceptable.',
  409: 'Conflict.',
  410: 'Gone.',
  413: 'Request entity too large.',
  415: 'Unsupported media type.',
  429: 'Request was throttled.',
  500: 'A server error occurred.',
  503: 'Service unavailable.',
};

export function errorBody(status: number, errors: readonly FakeError[]) {
  return {
    errors: errors.map((error) => ({
      id: randomUUID(),
      status,
      code: error.code,
      title: error.title ?? TITLES[status] ?? 'Error.',
      detail: error.detail,
      source: error.parameter !== undefined ? { parameter: error.parameter } : { pointer: error.pointer ?? '/data/' },
      links: {},
      meta: {},
    })),
  };
}

/** One error as a reply: status and body together. */
export interface FakeReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function refuse(status: number, ...errors: FakeError[]): FakeReply {
  return { status, body: errorBody(status, errors) };
}

/**
 * The request's JSON:API document when it parses and its `data.type` is `type`; otherwise the
 * refusal Klaviyo sends (400 for malformed JSON, 409 for the wrong resource type).
 */
export function readDocument(body: string, type: string): { doc: any } | { refusal: FakeReply } {
  let doc: any;
  try {
    doc = JSON.parse(body);
  } catch {
    return { refusal: refuse(400, { code: 'parse_error', detail: 'Malformed JSON', pointer: '/data' }) };
  }
  if (doc?.data?.type !== type) return { refusal: refuse(409, { code: 'conflict', detail: `Expected type ${type}`, pointer: '/data/type' }) };
  return { doc };
}
