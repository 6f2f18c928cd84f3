/**
 * Request headers with protocol meaning: `Prefer` (RFC 7240) and `Idempotency-Key`
 * (draft-ietf-httpapi-idempotency-key-header), plus the request hash that ties a key to one body.
 */
import { createHash } from 'node:crypto';
import { ApiError } from './errors.ts';
import { depthOf } from '../util/json-depth.ts';

/** Longest `Prefer: wait` honoured; a client asking for more gets this much (RFC 7240 lets us). */
export const MAX_WAIT_SECONDS = 60;

export interface Preferences {
  respondAsync: boolean;
  /** Seconds the client is willing to wait for a final answer; 0 when not asked. */
  waitSeconds: number;
}

/** `Prefer: respond-async, wait=10` (several headers or comma lists; unknown preferences ignored, as the RFC asks). */
export function parsePrefer(header: string | string[] | undefined): Preferences {
  const result: Preferences = { respondAsync: false, waitSeconds: 0 };
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const item of values.flatMap((v) => v.split(','))) {
    const [token = '', value] = item.split(';')[0]!.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    const name = token.toLowerCase();
    if (name === 'respond-async') result.respondAsync = true;
    if (name === 'wait' && value !== undefined && /^\d+$/.test(value)) result.waitSeconds = Math.min(MAX_WAIT_SECONDS, Number(value));
  }
  return result;
}

/** The `Idempotency-Key` header, checked: 1–255 visible ASCII characters. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header.join(',') : header;
  const key = value.trim().replace(/^"(.*)"$/, '$1');
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new ApiError(400, 'invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters, such as a UUID', 'Idempotency-Key');
  }
  return key;
}

/**
 * JSON with object keys sorted at every level: `{"a":1,"b":2}` and `{"b":2,"a":1}` give the same
 * text. Recursive, so callers pass only values whose depth is already bounded (`serialiseEvents`).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What makes two submits "the same request": destination and body, not their formatting or key order. */
export function requestHash(destinationId: string, body: unknown): string {
  return createHash('sha256').update(destinationId).update('\n').update(canonicalJson(body)).digest('hex');
}


// A NUL character or an unpaired surrogate survives JSON.stringify only as an escape (\u0000,
// \ud800). Refused at the door: PostgreSQL's jsonb and many receivers reject both, and one such
// event would fail the whole batch it travels in. Preceded by an even run of backslashes it is an
// escape, not the text "\\u0000".
const UNSTORABLE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/**
 * Serialises each event for `insertJobs`, refusing (with its index) any that receivers would
 * choke on: nested deeper than `maxDepth` (JSON.stringify, PostgreSQL's jsonb and most receivers
 * recurse, and a few thousand levels overflow their stacks), or carrying a NUL or a lone surrogate.
 */
export function serialiseEvents(events: readonly unknown[], maxDepth: number): string[] {
  return events.map((event, index) => {
    if (depthOf(event, maxDepth) > maxDepth) {
      throw new ApiError(400, 'too_deep', `body field "events[${index}]" is nested more than ${maxDepth} levels deep (objects and arrays count); `
        + 'flatten it, or raise BATCH_ROUTER_API_MAX_EVENT_DEPTH', `events[${index}]`);
    }
    const text = JSON.stringify(event);
    if (UNSTORABLE.test(text)) {
      throw new ApiError(400, 'invalid_request', `body field "events[${index}]" contains a NUL character or an unpaired UTF-16 surrogate, which receivers and PostgreSQL's jsonb refuse: remove or replace it`, `events[${index}]`);
    }
    return text;
  });
}
