/**
 * Garbage a vendor might answer, as fast-check arbitraries of `GarbageReply`: random bytes,
 * truncated JSON, hostile JSON (arrays where objects belong, nulls, huge numbers, prototype keys),
 * HTML error pages, wrong content types, empty 200s, and any of these cut by a reset mid-body.
 * Vendor-shaped answers (a status document with counts that do not add up, a result file with
 * rows nobody sent) are built by each manager's test from `shaped` and `csvFile` below.
 *
 * Reproduce a failure with `FUZZ_SEED=<seed> npx vitest run <file>` (fast-check prints the seed);
 * `FUZZ_RUNS` scales the run counts.
 */
import fc from 'fast-check';
import { csvLine } from '../../../managers/_bulk-csv/csv-parts.ts';
import { nastyJson } from '../arbitraries.ts';
import type { GarbageReply } from './garbage-gate.ts';

const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const scale = process.env.FUZZ_RUNS === undefined ? 1 : Math.max(0.01, Number(process.env.FUZZ_RUNS));

/** fast-check parameters: `numRuns` scaled by FUZZ_RUNS, and the seed from FUZZ_SEED when set. */
export function fuzzRuns(numRuns: number): fc.Parameters<unknown> {
  return { numRuns: Math.max(1, Math.round(numRuns * scale)), ...(seed === undefined ? {} : { seed }) };
}

/**
 * A time budget for one property, so a busy machine runs fewer cases rather than overrunning the
 * file's. Cases that start after it are passed over; the case running when it ends still runs to
 * its end. (fast-check's `interruptAfterTimeLimit` would cut that case and count it as skipped,
 * hiding exactly the hangs looked for; `skipAllAfterTimeLimit` fails the property for skipping.)
 */
export function timeBudget(ms: number): { spent(): boolean; ran: number } {
  const end = Date.now() + ms;
  const budget = {
    ran: 0,
    spent() {
      if (Date.now() > end) return true;
      budget.ran += 1;
      return false;
    },
  };
  return budget;
}

const encoder = new TextEncoder();
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/vnd.api+json', 'text/html', 'text/csv', 'text/plain', 'application/octet-stream', 'application/xml', ''];
const STATUSES = [200, 200, 200, 201, 202, 400, 401, 403, 404, 409, 410, 413, 429, 500, 502, 503];

export const anyStatus = fc.constantFrom(...STATUSES);
export const okStatus = fc.constantFrom(200, 200, 201, 202);
const contentType = fc.constantFrom(...CONTENT_TYPES);

/** A reply with this body, a status and a content type (possibly the wrong one), sometimes reset mid-body. */
export function reply(body: fc.Arbitrary<Uint8Array | string>, status: fc.Arbitrary<number> = anyStatus, type: fc.Arbitrary<string> = contentType): fc.Arbitrary<GarbageReply> {
  return fc.record({ body, status, type, cut: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 5 }), retryAfter: fc.option(fc.constantFrom('0', '1', 'soon', '-5', 'Wed, 21 Oct 2015 07:28:00 GMT'), { freq: 6 }) })
    .map(({ body, status, type, cut, retryAfter }) => {
      const bytes = typeof body === 'string' ? encoder.encode(body) : body;
      return {
        status,
        headers: { ...(type ? { 'content-type': type } : {}), ...(retryAfter !== null ? { 'retry-after': retryAfter } : {}) },
        body: bytes,
        ...(cut !== null && bytes.byteLength > 0 ? { resetAfter: Math.floor(cut * bytes.byteLength) } : {}),
      };
    });
}

const HTML_PAGE = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>';

/**
 * Bodies that are not what any vendor documents: random bytes, invalid UTF-8, HTML, empty,
 * hostile JSON, and `samples` (valid answers of the step) cut short or salted.
 */
export function junkBody(samples: readonly string[]): fc.Arbitrary<Uint8Array | string> {
  const sample = fc.constantFrom(...samples);
  return fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc.constantFrom('', ' ', 'null', '[]', '{}', '""', '0', 'true', '\uFEFF{}', HTML_PAGE, 'OK', '{"success":true}', '[{"errorCode":null}]'),
    nastyJson.map((value) => JSON.stringify(value) ?? 'null'),
    fc.tuple(sample, fc.double({ min: 0, max: 1, noNaN: true })).map(([text, at]) => text.slice(0, Math.floor(at * text.length))),
    fc.tuple(sample, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([text, bytes]) => {
      const at = Math.floor(text.length / 2);
      return new Uint8Array([...encoder.encode(text.slice(0, at)), ...bytes, ...encoder.encode(text.slice(at))]);
    }),
  );
}

/** Any junk reply for a step whose valid answers look like `samples`. */
export const junk = (samples: readonly string[]) => reply(junkBody(samples));

/** Values of the wrong kind for a field: missing (undefined), null, a string, an array, an object, extreme numbers. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, '', 'x', '3', true, [], {}, [1], { toString: 1 }, -1, 0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 63),
  nastyJson,
);

/** A count as a vendor might garble it: right, off by one, negative, fractional, huge, or not a number. */
export function garbledCount(right: number): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(right, right, right + 1, right + 2, Math.max(0, right - 1), 0, -1, -2, -right, right + 0.5, 1e308) }, { weight: 1, arbitrary: wrongValue });
}

/** JSON with `undefined` fields left out, `{toString: 1}` kept as an object owning that key. */
export const json = (value: unknown): string => JSON.stringify(value) ?? 'null';

/** A JSON reply (right or wrong content type) with a 2xx status. */
export const jsonReply = (doc: fc.Arbitrary<unknown>, status: fc.Arbitrary<number> = okStatus): fc.Arbitrary<GarbageReply> =>
  reply(doc.map(json), status, fc.constantFrom('application/json', 'application/json', 'application/vnd.api+json', 'text/plain', ''));

/** How a result file lists the rows of an upload. */
export type CsvVariant = 'exact' | 'fewer' | 'more' | 'unknown' | 'duplicate' | 'broken-quoting' | 'wrong-header' | 'empty' | 'header-only';
export const csvVariant = fc.constantFrom<CsvVariant>('exact', 'fewer', 'more', 'unknown', 'duplicate', 'broken-quoting', 'wrong-header', 'empty', 'header-only');

/**
 * A CSV result file for `rows` (cells in `columns` order) with `extra` vendor columns before
 * them, garbled as `variant` says. `listed` is the rows it names as they were sent.
 */
export function csvFile(columns: readonly string[], extra: readonly string[], rows: readonly string[][], variant: CsvVariant, extraCells: (i: number) => string[]): { text: string; listed: Set<number> } {
  const header = csvLine([...extra, ...columns]);
  const line = (cells: readonly string[], i: number) => csvLine([...extraCells(i), ...cells]);
  const listed = new Set<number>();
  const body = (indexes: number[]) => indexes.map((i) => {
    listed.add(i);
    return line(rows[i]!, i);
  }).join('');
  const all = rows.map((_, i) => i);
  switch (variant) {
    case 'exact': return { text: header + body(all), listed };
    case 'fewer': return { text: header + body(all.slice(1)), listed };
    case 'more': return { text: header + body(all) + line(columns.map((c) => `nobody-${c}`), -1), listed };
    case 'unknown': return { text: header + rows.map((cells, i) => line(cells.map((c) => `${c}~`), i)).join(''), listed };
    case 'duplicate': return { text: header + body(all) + (rows.length > 0 ? line(rows[0]!, 0) : ''), listed };
    case 'broken-quoting': return { text: `${header}"${rows.map((cells) => cells.join('","')).join('\n"')}\n"unterminated,"x""y\n`, listed: new Set() };
    case 'wrong-header': return { text: csvLine(['a', 'b', 'c']) + body(all), listed: new Set() };
    case 'empty': return { text: '', listed };
    case 'header-only': return { text: header, listed };
  }
}

/** A CSV reply (sometimes with a JSON or no content type, sometimes reset mid-body). */
export const csvReply = (text: fc.Arbitrary<string>) => reply(text, fc.constantFrom(200, 200, 200, 201), fc.constantFrom('text/csv', 'text/csv; charset=utf-8', 'application/octet-stream', '', 'application/json'));
