/**
 * The correlation key of a Marketo row. Marketo stores values trimmed and echoes them so in its
 * result files, so the key is taken over trimmed cells: the key computed at upload and the key of
 * the echoed row agree even when an event carried spaces around a value.
 */
import { correlationKey } from '../_bulk-csv/rows.ts';

export function marketoRowKey(cells: readonly string[]): string {
  return correlationKey(cells.map((cell) => cell.trim()));
}
