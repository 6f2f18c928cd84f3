/**
 * Rows of a bulk CSV import (Marketo, Salesforce): an event becomes the cells of the configured
 * columns, and each row gets a correlation key derived from exactly those cells.
 *
 * Why a hash of the cells: vendors return failed rows as "the original columns plus a reason",
 * with no row number. Hashing the cells we sent, and the same cells read back from the result
 * file, matches them without any state but the key the router persists per job at upload time,
 * so the mapping is exact after a restart.
 */
import { createHash } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../src/manager/contract.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import { cellText } from '../local-files/csv.ts';

/** The staged row: one cell per configured column, in column order. Plain JSON for staging. */
export type CsvRow = string[];

/**
 * The value at a field path: `traits.email` walks nested objects. A key that itself contains
 * dots (`{"a.b": 1}`) wins over the nested walk, so flat events work too.
 */
export function valueAt(event: JsonObject, path: string): JsonValue | undefined {
  if (Object.hasOwn(event, path)) return event[path];
  let current: JsonValue | undefined = event;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/** A value as CSV cell text: missing and null are empty, objects and arrays JSON, the rest plain. */
export function cell(value: JsonValue | undefined): string {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return JSON.stringify(value);
  return cellText(value);
}

export interface RowShape {
  /** Event field path → vendor column, in column order. */
  readonly fieldMapping: Readonly<Record<string, string>>;
  /** Vendor columns that must not be empty (the lookup or id column). */
  readonly required: readonly string[];
  /** Names the vendor in reasons: "Marketo". */
  readonly vendor: string;
}

/** The vendor columns of a mapping, in the order the CSV header lists them. */
export function columnsOf(fieldMapping: Readonly<Record<string, string>>): string[] {
  return Object.values(fieldMapping);
}

/**
 * Transform for bulk CSV managers: pure, and throws `PermanentError` (this job only is aborted)
 * for an event that is not an object or lacks a required column.
 */
export function toCsvRow(event: unknown, shape: RowShape): CsvRow {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new PermanentError(`event must be a JSON object to become a ${shape.vendor} row`);
  }
  const entries = Object.entries(shape.fieldMapping);
  const cells = entries.map(([path]) => cell(valueAt(event as JsonObject, path)));
  for (const column of shape.required) {
    const index = entries.findIndex(([, target]) => target === column);
    if (index >= 0 && cells[index] === '') {
      throw new PermanentError(
        `event has no value for ${shape.vendor} column "${column}" (mapped from "${entries[index]![0]}"), which every row needs`,
      );
    }
  }
  if (cells.every((text) => text === '')) {
    throw new PermanentError(`event has none of the fields in "fieldMapping" (${entries.map(([path]) => path).join(', ')})`);
  }
  return cells;
}

/**
 * 22 base64url characters of SHA-256 over the cells. JSON encoding keeps `["a,b"]` and
 * `["a","b"]` apart; 128 bits make an accidental collision between different rows negligible.
 */
export function correlationKey(cells: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(cells)).digest('base64url').slice(0, 22);
}

/** Cross-field checks shared by the configs: non-empty mapping, one source per vendor column. */
export function fieldMappingProblem(fieldMapping: Readonly<Record<string, string>>): string | undefined {
  const targets = Object.values(fieldMapping);
  if (targets.length === 0) return 'must map at least one event field to a vendor field, e.g. {"email": "email"}';
  const empty = Object.entries(fieldMapping).find(([path, target]) => path.trim() === '' || target.trim() === '');
  if (empty) return 'has an empty field path or column name; write both, e.g. {"traits.email": "email"}';
  const seen = new Set<string>();
  for (const target of targets) {
    if (seen.has(target)) return `maps two event fields to "${target}"; a column can appear only once in the file`;
    seen.add(target);
  }
  return undefined;
}
