/**
 * Many stored events in one text. Valid JSON text never holds a raw record separator (U+001E):
 * control characters must be escaped inside strings and are not whitespace between tokens. So a
 * batch of events can travel as one text split at that character, instead of an array the other
 * side must parse element by element (enqueue: jobs.repository.ts; the claim's result:
 * claim-function.ts). A text that holds the character anyway (written around the API) must be
 * noticed by the side that splits: the number of parts then differs from the number of events.
 */
export const PAYLOAD_SEPARATOR = '\u001e';

/** The same character in SQL. */
export const PAYLOAD_SEPARATOR_SQL = 'chr(30)';

/**
 * Stands in a joined text for a payload that is missing (a NULL): U+001F, another control
 * character no JSON text holds raw. A part equal to it is ambiguous only for a text that is that
 * one character, which the splitting side then reads again another way.
 */
export const MISSING_PAYLOAD = '\u001f';
export const MISSING_PAYLOAD_SQL = 'chr(31)';
