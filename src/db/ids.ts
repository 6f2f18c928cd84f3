/**
 * Row ids are PostgreSQL `bigint`s, passed around as decimal text. Text that is not one (letters,
 * or digits above 2^63-1) names no row: callers answer "not found" without asking the database,
 * which would otherwise fail the whole statement with "out of range for type bigint".
 */
const BIGINT_MAX = 9_223_372_036_854_775_807n;

/** True when `text` is a decimal a `bigint` column can hold (0 to 2^63-1, no sign or spaces). */
export function isBigintId(text: string): boolean {
  return /^\d{1,19}$/.test(text) && BigInt(text) <= BIGINT_MAX;
}
