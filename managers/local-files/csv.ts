/**
 * CSV shaping: nested objects become dotted columns, and a batch's header is the sorted union of
 * its rows' columns. Rows are flattened at transform time (so a clash fails only its own job) and
 * the writer streams them through csv-stringify, which does the quoting.
 */
import type { Transform } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { JsonObject, JsonValue, StagedRow } from '../../src/manager/contract.ts';
import { PermanentError } from '../../src/manager/errors.ts';

/** A flattened row: dotted column name → leaf value (arrays stay whole, written as JSON). */
export type FlatRow = Record<string, Exclude<JsonValue, JsonObject>>;

/**
 * `{a: {b: 1}, c: [1]}` → `{"a.b": 1, c: [1]}`. An empty object has no leaves and adds no column.
 * `strict` throws when two paths meet in one column (`{"a.b": 1, a: {b: 2}}`); otherwise the
 * later one wins, which is what the writer needs for rows staged before a format change.
 */
export function flatten(row: JsonObject, strict: boolean): FlatRow {
  const out: FlatRow = {};
  const walk = (value: JsonObject, prefix: string): void => {
    for (const [key, inner] of Object.entries(value)) {
      const column = prefix + key;
      if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) {
        walk(inner, `${column}.`);
      } else {
        if (strict && Object.hasOwn(out, column)) {
          throw new PermanentError(`event has two values for CSV column "${column}" (a dotted key and a nested object); rename one`);
        }
        out[column] = inner;
      }
    }
  };
  walk(row, '');
  return out;
}

/** How one value reads in a cell: null is empty, arrays are JSON, the rest is its plain text. */
export function cellText(value: FlatRow[string] | undefined): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

/** Sorted union of every row's columns: the first of the writer's two passes over the batch. */
export async function collectColumns(rows: AsyncIterable<StagedRow<JsonObject>>): Promise<string[]> {
  const columns = new Set<string>();
  for await (const { row } of rows) for (const column of Object.keys(flatten(row, false))) columns.add(column);
  return [...columns].sort();
}

/** The CSV records of a batch: the header, then one record per staged row in staging order. */
export async function* csvRecords(columns: readonly string[], rows: AsyncIterable<StagedRow<JsonObject>>): AsyncGenerator<string[]> {
  yield [...columns];
  for await (const { row } of rows) {
    const flat = flatten(row, false);
    yield columns.map((column) => cellText(flat[column]));
  }
}

/**
 * csv-stringify's streaming transform, `\n`-terminated. Records are arrays of strings, so it only
 * quotes (fields with commas, quotes or line breaks); its own casts (true → "1") never apply.
 */
export function csvStringifier(): Transform {
  return stringify({ record_delimiter: 'unix' });
}
