/**
 * Request validation: two ajv instances (bodies strict, with no type coercion, so `"events": "x"`
 * is a 400 rather than a guess; query strings, path parameters and headers coerced, since they
 * only ever arrive as text), sharing two rules every route gets without asking for them:
 *
 * - No NUL character in any declared string field (path ids, query filters, `reasonContains`,
 *   `callback.url`, headers...). PostgreSQL's text type cannot hold one and answers "invalid byte
 *   sequence", which used to reach the caller as a 500. Every string schema of every request part
 *   gets the `noNul` keyword when its route is compiled, so a new route is covered without thinking
 *   about it. Event bodies are free-form objects (no string schema inside) and are checked, with
 *   their index, by `serialiseEvents`.
 * - `date-time` means RFC 3339 with a time zone (`Z` or `±HH:MM`) and a date that exists on the
 *   calendar. ajv-formats' own check lets `+01` and the leap second `23:59:60` through, and
 *   JavaScript's Date turns both into NaN, which PostgreSQL then refused with a 500.
 */
import { Ajv, type AnySchema } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/** The message a NUL gets; `describeValidation` prefixes it with the field. */
export const NUL_MESSAGE = 'must not contain a NUL character (\\u0000); remove it';
export const DATE_TIME_MESSAGE = 'must be an RFC 3339 date-time with a time zone that exists on the calendar, such as 2026-01-31T12:00:00Z';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** True for an RFC 3339 date-time with an explicit zone, a real calendar day and no leap second. */
export function isCalendarDateTime(text: string): boolean {
  const m = RFC3339.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second, zoneHour = 0, zoneMinute = 0] = m.slice(1).map((part) => Number(part ?? 0));
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysIn(year!, month!)) return false;
  // 23:59:60 is a valid UTC leap second, but Date (and so every query) cannot represent it.
  if (hour! > 23 || minute! > 59 || second! > 59 || zoneHour > 23 || zoneMinute > 59) return false;
  return !Number.isNaN(Date.parse(text));
}

function declaresString(schema: Record<string, unknown>): boolean {
  const type = schema.type;
  return type === 'string' || (Array.isArray(type) && type.includes('string'));
}

/**
 * A copy of `schema` with `noNul: true` on every subschema that admits strings. Iterative, so a
 * schema of any shape is walked without recursion; `$ref`s are left alone (request schemas here
 * are inline; shared `$id` schemas describe responses).
 */
export function withNulGuard(schema: unknown): unknown {
  const copy = structuredClone(schema);
  const pending: unknown[] = [copy];
  while (pending.length > 0) {
    const node = pending.pop();
    if (Array.isArray(node)) {
      pending.push(...node);
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    const record = node as Record<string, unknown>;
    if (declaresString(record)) record.noNul = true;
    for (const [key, value] of Object.entries(record)) {
      // `enum`, `const`, `default` and `examples` hold data, not schemas.
      if (!['enum', 'const', 'default', 'examples', 'required'].includes(key)) pending.push(value);
    }
  }
  return copy;
}

function addRules(ajv: Ajv): Ajv {
  addFormats(ajv);
  ajv.addFormat('date-time', { type: 'string', validate: isCalendarDateTime });
  ajv.addKeyword({
    keyword: 'noNul',
    type: 'string',
    schemaType: 'boolean',
    error: { message: NUL_MESSAGE },
    validate: (enabled: boolean, data: string) => !enabled || !data.includes('\u0000'),
  });
  return ajv;
}

export interface Validators {
  /** Compiles a route's schema for one request part, with the NUL guard added. */
  compile(schema: AnySchema, httpPart: string | undefined): ReturnType<Ajv['compile']>;
}

export function requestValidators(): Validators {
  const common = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false } as const;
  const body = addRules(new Ajv({ ...common, coerceTypes: false }));
  const other = addRules(new Ajv({ ...common, coerceTypes: true }));
  return {
    compile: (schema, httpPart) => (httpPart === 'body' ? body : other).compile(withNulGuard(schema) as AnySchema),
  };
}
